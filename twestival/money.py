"""Exact money: integer minor units with an ISO 4217 code.

Exponents come from Babel's CLDR data (JPY 0, GBP 2, KWD 3), except where CLDR has moved
away from ISO 4217's minor unit (see ISO_MINOR_UNITS). Nothing here uses floats.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from babel.numbers import format_currency, get_currency_precision, list_currencies

from .errors import InvalidInput
from .languages import N_

# Far beyond any real gift, far inside a signed 64-bit column even after summing millions of rows.
MAX_MINOR = 10**15


class MoneyError(InvalidInput):
    """Input that cannot be an amount of money; the message is fit to show to a person."""


@functools.cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def check_currency(code: object) -> str:
    if isinstance(code, str) and code in _known_currencies():  # the common case, fast
        return code
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{3}", code or ""):
        raise MoneyError(N_("currency must be a three-letter ISO 4217 code, not %(code)r"),
                         code=code)
    code = code.upper()
    if code not in _known_currencies():
        raise MoneyError(N_("unknown currency %(code)r"), code=code)
    return code


# A stored amount is an integer of minor units, so a currency's exponent must never change under
# it. CLDR 48 (Babel 2.19) gives HUF, IDR and COP no decimals (how prices are quoted) and RSD
# two (zero before); ISO 4217, which banks, Stripe charges and the rest of this code follow,
# gives all four two decimals: a Hungarian bank statement books -3892.77 HUF.
ISO_MINOR_UNITS = {"HUF": 2, "IDR": 2, "COP": 2, "RSD": 2}


@functools.cache
def exponent(currency: str) -> int:
    """Number of digits after the decimal point of the currency's minor unit."""
    currency = check_currency(currency)
    return ISO_MINOR_UNITS.get(currency) or get_currency_precision(currency)


@dataclasses.dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str

    def __post_init__(self):
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError(N_("amount must be a whole number of minor units"))
        object.__setattr__(self, "currency", check_currency(self.currency))

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError(N_("cannot add %(other)s to %(currency)s"), other=other.currency,
                             currency=self.currency)
        return Money(self.minor + other.minor, self.currency)

    def major_str(self) -> str:
        """Plain decimal text, e.g. '12.50', '1000' for JPY, '1.250' for KWD."""
        return f"{self.decimal:.{exponent(self.currency)}f}"

    def __str__(self) -> str:
        return f"{self.major_str()} {self.currency}"


# [0-9], not \d: \d matches any script's digits, and Decimal("１２") and Decimal("١٢") are 12.
_AMOUNT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")


def parse(text: object, currency: str, *, allow_negative: bool = False,
          allow_zero: bool = False) -> Money:
    """Parse major-unit text such as '12.50' into Money, refusing anything inexact."""
    currency = check_currency(currency)
    if isinstance(text, bool) or not isinstance(text, (str, int, Decimal)):
        raise MoneyError(N_("amount must be a decimal string such as \"12.50\""))
    raw = str(text).strip()
    if not _AMOUNT_RE.fullmatch(raw):
        raise MoneyError(N_("amount %(amount)r is not a number"), amount=str(text)[:40])
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already guards this
        raise MoneyError(N_("amount %(amount)r is not a number"), amount=raw) from None
    places = exponent(currency)
    minor = value.scaleb(places)
    if minor != minor.to_integral_value():
        if places == 0:
            raise MoneyError(N_("%(currency)s amounts have no decimal places; got %(amount)s"),
                             currency=currency, amount=raw)
        raise MoneyError(N_("%(currency)s amounts have at most %(places)s decimal places; "
                            "got %(amount)s"), currency=currency, places=places, amount=raw)
    minor_int = int(minor)
    if minor_int < 0 and not allow_negative:
        raise MoneyError(N_("amount must not be negative"))
    if minor_int == 0 and not allow_zero:
        raise MoneyError(N_("amount must be more than zero"))
    if abs(minor_int) > MAX_MINOR:
        raise MoneyError(N_("amount is too large"))
    return Money(minor_int, currency)


def from_decimal(value: Decimal, currency: str) -> Money:
    """Exact conversion of a decimal major amount; refuses values that need rounding."""
    return parse(format(value, "f"), currency, allow_negative=True, allow_zero=True)


def format_money(money: Money, locale: str = "en") -> str:
    return _formatted(money.minor, money.currency, locale)


@functools.lru_cache(maxsize=65536)
def _formatted(minor: int, currency: str, locale: str) -> str:
    # Kept: a board shows the same amounts again at every update, and Babel's formatting is
    # most of a page's render time (bench/cities.py).
    # Never round a stored minor digit away (CLDR shows HUF without decimals, say).
    return format_currency(Money(minor, currency).decimal, currency, locale=locale,
                           currency_digits=True, decimal_quantization=False)


# --- FX -----------------------------------------------------------------------------------

RATE_PLACES = Decimal("1e-10")


@dataclasses.dataclass(frozen=True, slots=True)
class Rate:
    """Units of ``quote`` for one unit of ``base``, as published on ``date``."""
    base: str
    quote: str
    value: Decimal
    date: dt.date
    source: str = "ecb"

    @property
    def text(self) -> str:
        return format(self.value.normalize(), "f")


def cross_rate(base_per_eur: Decimal, quote_per_eur: Decimal) -> Decimal:
    """ECB rates are quoted per euro; the rate base→quote is their ratio, kept to 10 places."""
    return (quote_per_eur / base_per_eur).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)


def convert(money: Money, rate: Rate) -> Money:
    """Convert with banker's rounding to the quote currency's minor unit."""
    if money.currency != rate.base:
        raise MoneyError(N_("rate is for %(base)s, amount is in %(currency)s"), base=rate.base,
                         currency=money.currency)
    value = money.decimal * rate.value
    places = exponent(rate.quote)
    minor = value.scaleb(places).to_integral_value(rounding=ROUND_HALF_EVEN)
    return Money(int(minor), rate.quote)
