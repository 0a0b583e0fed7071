"""What a donor types and picks on the donate form, in exact money. No Flask here.

- Presets: three amounts that read as round, sensible gifts in each currency (¥1,000, not ¥10).
- Typed amounts: parsed the way the donor's locale writes numbers (``10,50`` and ``1.000,50`` in
  German, ``10.50`` and ``1,000.50`` in English) by Babel's strict parser, into a Decimal and
  then exact minor units; never through a float, never rounded.
- Covering the fees: the gift grossed up so that, after the stream's fee rule, the charity
  receives the chosen amount.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from babel import Locale
from babel.numbers import (
    NumberFormatError,
    format_currency,
    format_decimal,
    get_currency_symbol,
    get_group_symbol,
    parse_decimal,
)

from ..errors import InvalidInput
from ..languages import N_
from ..money import Money, MoneyError, exponent, format_money, parse

# Preset gifts in major units. Currencies not listed get DEFAULT_PRESETS scaled by the
# currency's magnitude against sterling (MAGNITUDE, a power of ten): a fixed table rather than
# today's exchange rate, so the buttons stay round numbers people recognise.
PRESETS: dict[str, tuple[int, int, int]] = {
    "GBP": (10, 25, 50), "EUR": (10, 25, 50), "USD": (10, 25, 50), "CAD": (10, 25, 50),
    "AUD": (15, 30, 75), "NZD": (15, 30, 75), "CHF": (10, 25, 50), "KWD": (5, 10, 20),
    "JPY": (1000, 3000, 10000), "KRW": (10000, 30000, 100000), "INR": (500, 1000, 2500),
    "SEK": (100, 250, 500), "NOK": (100, 250, 500), "DKK": (100, 250, 500),
    "ZAR": (200, 500, 1000), "BRL": (50, 100, 250), "MXN": (200, 500, 1000),
    "HUF": (3000, 5000, 10000), "ISK": (1500, 3000, 7500), "PLN": (50, 100, 200),
    "CZK": (250, 500, 1000),
}
DEFAULT_PRESETS = (10, 25, 50)
# Units of the currency worth about one pound, rounded to a power of ten (for PRESETS' gaps).
MAGNITUDE = {"IDR": 10000, "VND": 10000, "COP": 1000, "CLP": 1000, "PHP": 100, "THB": 10,
             "TRY": 10, "HKD": 10, "CNY": 10, "SGD": 1, "ILS": 1, "AED": 1, "SAR": 1}


def presets(currency: str) -> list[Money]:
    majors = PRESETS.get(currency) or tuple(n * MAGNITUDE.get(currency, 1)
                                            for n in DEFAULT_PRESETS)
    return [parse(str(major), currency) for major in majors]


def preset_label(money: Money, locale: str) -> str:
    """A round preset without its zero decimals: "£25", "25 €", "¥3,000"."""
    if money.decimal != money.decimal.to_integral_value():
        return format_money(money, locale)
    pattern = re.sub(r"\.0+", "", Locale.parse(locale).currency_formats["standard"]
                     .pattern.split(";")[0])
    if get_currency_symbol(money.currency, locale).isalpha():   # "CHF 10", not "CHF10"
        pattern = pattern.replace("¤#", "¤\u00a0#")
    return format_currency(money.decimal, money.currency, format=pattern, locale=locale,
                           currency_digits=False)


class AmountError(InvalidInput):
    """A typed amount that is not an exact amount of the currency in the donor's locale.
    ``code`` says which way (``empty``, ``format``, ``places``), for the form's own words."""

    def __init__(self, code: str, message: str, **values):
        super().__init__(message, **values)
        self.code = code


_LOCALE_NUMBER = re.compile(r"[0-9.,\s\u00a0\u202f'’]+")


def _ascii_digits(text: str) -> str:
    """Full-width digits ("１０００" from a Japanese keyboard) and those of other scripts ("١٢")
    mean the number: made ASCII before the locale's rules are applied."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


_SPACES = re.compile(r"[ \u00a0\u202f]")


def _locale_spaces(raw: str, locale: str) -> str:
    # French groups digits with a narrow no-break space ("1 000,50"); people type a plain one,
    # and NFKC above turns theirs into one too.
    group = get_group_symbol(locale)
    return _SPACES.sub(group, raw) if _SPACES.fullmatch(group) else raw


def parse_typed(text: str, currency: str, locale: str) -> Money:
    """``text`` as the donor's locale writes numbers; refuses anything ambiguous or inexact."""
    raw = _ascii_digits(text or "").strip()
    if not raw:
        raise AmountError("empty", N_("no amount given"))
    try:
        if not _LOCALE_NUMBER.fullmatch(raw):
            raise NumberFormatError(raw)
        value = parse_decimal(_locale_spaces(raw, locale), locale=locale, strict=True)
    except NumberFormatError:
        raise AmountError("format", N_("%(amount)r is not a number in locale %(locale)s"),
                          amount=raw[:40], locale=locale) from None
    places = exponent(currency)
    if -value.normalize().as_tuple().exponent > places:
        raise AmountError("places", N_("%(currency)s amounts have at most %(places)s decimal "
                                       "places"), currency=currency, places=places)
    try:
        return parse(format(value, "f"), currency)
    except MoneyError as exc:
        raise AmountError("format", exc.template, **exc.values) from None


# --- covering the fees ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FeeRule:
    """A provider's fee on a charge: ``percent`` of it, rounded up to a minor unit, plus
    ``fixed``. Written as text in settings, e.g. ``"1.5% + 0.20"`` (major units)."""
    percent: Fraction
    fixed: Money

    def text(self, locale: str) -> str:
        """E.g. "1.5% + £0.20", for the donor."""
        percent = format_decimal(Decimal(self.percent.numerator) * 100
                                 / Decimal(self.percent.denominator), locale=locale)
        percent = format_percent_text(percent, locale)
        return f"{percent} + {format_money(self.fixed, locale)}" if self.fixed.minor else percent

    def fee(self, gross: int) -> int:
        return -(-gross * self.percent.numerator // self.percent.denominator) + self.fixed.minor


def format_percent_text(number: str, locale: str) -> str:
    # German and French write "1,5 %", English "1.5%".
    return f"{number}\u00a0%" if locale.startswith(("de", "fr")) else f"{number}%"


_RULE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*(?:\+\s*(\d+(?:\.\d+)?))?\s*")

# Stripe's published standard pricing for European (UK: domestic) cards; override with
# TWESTIVAL_FEE_RULES. "*" is any other currency. Only card gifts offer covering the fees: a
# PayPal order carries no metadata to say so.
DEFAULT_FEE_RULES: dict[str, dict[str, str]] = {
    "stripe": {"GBP": "1.5% + 0.20", "EUR": "1.5% + 0.25", "CHF": "2.9% + 0.30",
               "USD": "2.9% + 0.30", "CAD": "2.9% + 0.30", "AUD": "1.75% + 0.30",
               "JPY": "3.6%", "KWD": "2.9% + 0.100", "*": "2.9%"},
    # PayPal's standard domestic rates; registered charities pay less (set FEE_RULES).
    "paypal": {"GBP": "2.9% + 0.30", "EUR": "2.49% + 0.35", "USD": "3.49% + 0.49",
               "CAD": "2.9% + 0.30", "AUD": "2.6% + 0.30", "CHF": "3.4% + 0.55",
               "JPY": "3.6% + 40", "*": "2.9%"},
}


def fee_rule(rules: Mapping, stream: str, currency: str) -> FeeRule | None:
    by_currency = rules.get(stream) or {}
    text = by_currency.get(currency, by_currency.get("*"))
    if text is None:
        return None
    match = _RULE.fullmatch(str(text))
    if match is None:
        raise InvalidInput(N_("fee rule %(rule)r for %(stream)s %(currency)s is not like "
                              "%(example)s"), rule=text, stream=stream, currency=currency,
                           example="'1.5% + 0.20'")
    fixed = parse(match.group(2) or "0", currency, allow_zero=True)
    return FeeRule(Fraction(Decimal(match.group(1))) / 100, fixed)


def gross_up(amount: Money, rule: FeeRule) -> Money:
    """The least charge from which, after ``rule``'s fee, the charity keeps ``amount``."""
    if rule.percent >= 1:
        raise InvalidInput(N_("a fee rule cannot take all of a gift"))
    keep = 1 - rule.percent
    target = Fraction(amount.minor + rule.fixed.minor)
    gross = -(-target.numerator * keep.denominator // (target.denominator * keep.numerator))
    # The fee rounds up, so the closed form can fall a unit short: step up until it holds.
    while gross - rule.fee(gross) < amount.minor:
        gross += 1
    return Money(gross, amount.currency)
