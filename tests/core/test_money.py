import datetime as dt
from decimal import Decimal

import pytest

from twestival.money import MAX_MINOR, Money, MoneyError, Rate, convert, exponent, format_money, parse


@pytest.mark.parametrize("code,places", [("JPY", 0), ("GBP", 2), ("EUR", 2), ("KWD", 3),
                                         ("BHD", 3), ("CLF", 4), ("ISK", 0)])
def test_exponents_come_from_cldr(code, places):
    assert exponent(code) == places


@pytest.mark.parametrize("code", ["HUF", "IDR", "COP", "RSD"])
def test_exponents_stay_iso_4217_where_cldr_moved(code):
    """CLDR 48 (Babel 2.19) quotes HUF, IDR and COP without decimals and changed RSD; stored
    minor units must mean what they meant, whichever Babel is installed."""
    assert exponent(code) == 2
    assert parse("-3892.77", code, allow_negative=True) == Money(-389277, code)


def test_format_never_rounds_a_stored_digit_away():
    assert format_money(Money(389277, "HUF"), "en") == "HUF3,892.77"
    assert format_money(Money(100, "GBP"), "en_GB") == "£1.00"


@pytest.mark.parametrize("text,code,minor", [
    ("12.50", "GBP", 1250), ("12.5", "GBP", 1250), ("12", "GBP", 1200), ("0.01", "GBP", 1),
    ("1000", "JPY", 1000), ("1000.", "JPY", 1000), ("1.250", "KWD", 1250), ("0.001", "KWD", 1),
    (" 7.00 ", "usd", 700), ("999999999999.99", "GBP", 99999999999999),
])
def test_parse_exact(text, code, minor):
    assert parse(text, code) == Money(minor, code.upper())


@pytest.mark.parametrize("text,code,message", [
    ("12.505", "GBP", "at most 2 decimal places"),
    ("1000.5", "JPY", "no decimal places"),
    ("1.2345", "KWD", "at most 3 decimal places"),
    ("-5.00", "GBP", "must not be negative"),
    ("0", "GBP", "more than zero"),
    ("abc", "GBP", "is not a number"),
    ("1e3", "GBP", "is not a number"),
    ("NaN", "GBP", "is not a number"),
    ("Infinity", "GBP", "is not a number"),
    ("1_000", "GBP", "is not a number"),
    ("", "GBP", "is not a number"),
    # Digits of other scripts: Decimal() reads each as 12 (the hub's forms and the importers
    # parse through here too; none means them).
    ("１２", "GBP", "is not a number"),
    ("١٢", "GBP", "is not a number"),
    ("१२.५०", "GBP", "is not a number"),
    ("12.٥", "GBP", "is not a number"),
    ("12.50", "XYZ", "unknown currency"),
    ("12.50", "GB", "three-letter"),
    ("100000000000000000000", "GBP", "too large"),
])
def test_parse_refuses_inexact_or_wrong(text, code, message):
    with pytest.raises(MoneyError, match=message):
        parse(text, code)


def test_parse_refuses_floats_and_bools():
    with pytest.raises(MoneyError):
        parse(12.5, "GBP")
    with pytest.raises(MoneyError):
        parse(True, "GBP")


def test_negative_allowed_when_asked():
    assert parse("-3.10", "GBP", allow_negative=True) == Money(-310, "GBP")


def test_huge_amounts_stay_exact():
    big = Money(MAX_MINOR, "GBP")
    assert big.major_str() == "10000000000000.00"
    assert (big + Money(1, "GBP")).minor == MAX_MINOR + 1


def test_major_str_and_format():
    assert Money(1000, "JPY").major_str() == "1000"
    assert Money(1250, "KWD").major_str() == "1.250"
    assert format_money(Money(123456, "GBP"), "en_GB") == "£1,234.56"
    assert format_money(Money(123456, "JPY"), "ja_JP") == "￥123,456"
    assert format_money(Money(1250, "KWD"), "en") == "KWD1.250"
    assert format_money(Money(123456, "EUR"), "de_DE") == "1.234,56\xa0€"


def test_money_refuses_mixed_currency_sums():
    with pytest.raises(MoneyError):
        Money(1, "GBP") + Money(1, "USD")


def test_convert_rounds_half_even_to_quote_exponent():
    rate = Rate("JPY", "GBP", Decimal("0.005"), dt.date(2026, 1, 2))
    assert convert(Money(1, "JPY"), rate) == Money(0, "GBP")      # 0.5p → 0 (even)
    assert convert(Money(3, "JPY"), rate) == Money(2, "GBP")      # 1.5p → 2 (even)
    kwd = Rate("GBP", "KWD", Decimal("0.3912345678"), dt.date(2026, 1, 2))
    assert convert(Money(10000, "GBP"), kwd) == Money(39123, "KWD")  # 39.123457 → 39.123


def test_convert_checks_base_currency():
    with pytest.raises(MoneyError):
        convert(Money(1, "USD"), Rate("GBP", "EUR", Decimal(1), dt.date(2026, 1, 1)))
