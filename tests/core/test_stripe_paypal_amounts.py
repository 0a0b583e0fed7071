"""Provider amounts ↔ exact Money, through the money module (never by dividing by 100)."""
from __future__ import annotations

import pytest

from twestival.money import Money, MoneyError
from twestival.streams.paypal.client import from_paypal, to_paypal
from twestival.streams.stripe.amounts import from_stripe, stripe_exponent, to_stripe


@pytest.mark.parametrize("amount,currency,expected", [
    (1250, "gbp", Money(1250, "GBP")),
    (500, "jpy", Money(500, "JPY")),          # zero-decimal in Stripe and in ISO 4217
    (1000, "krw", Money(1000, "KRW")),
    (50000, "isk", Money(500, "ISK")),        # ISK: two-decimal in Stripe, zero in ISO
    (150000, "huf", Money(150000, "HUF")),    # HUF charges: two-decimal in both
    (12340, "kwd", Money(12340, "KWD")),      # three-decimal
    (0, "usd", Money(0, "USD")),
])
def test_from_stripe(amount, currency, expected):
    assert from_stripe(amount, currency) == expected


@pytest.mark.parametrize("amount,currency", [(50050, "isk"), ("100", "gbp"), (1.5, "gbp"),
                                             (True, "gbp"), (100, "xyz"), (100, None)])
def test_from_stripe_refuses_what_is_not_exact(amount, currency):
    with pytest.raises(MoneyError):
        from_stripe(amount, currency)


@pytest.mark.parametrize("money,expected", [
    (Money(1250, "GBP"), 1250), (Money(500, "JPY"), 500), (Money(500, "ISK"), 50000),
    (Money(12340, "KWD"), 12340), (Money(150000, "HUF"), 150000),
])
def test_to_stripe(money, expected):
    assert to_stripe(money) == expected
    assert from_stripe(expected, money.currency) == money


def test_three_decimal_card_amounts_end_in_zero():
    with pytest.raises(MoneyError, match="multiple"):
        to_stripe(Money(12345, "KWD"))
    assert stripe_exponent("kwd") == 3 and stripe_exponent("ugx") == 0


@pytest.mark.parametrize("money,value", [(Money(1250, "GBP"), "12.50"), (Money(3000, "JPY"), "3000"),
                                         (Money(500000, "HUF"), "5000"), (Money(10000, "TWD"), "100")])
def test_paypal_amounts(money, value):
    assert to_paypal(money) == {"currency_code": money.currency, "value": value}
    assert from_paypal({"currency_code": money.currency, "value": value}) == money


def test_paypal_takes_huf_and_twd_in_whole_units_only():
    with pytest.raises(MoneyError, match="whole"):
        to_paypal(Money(500050, "HUF"))
