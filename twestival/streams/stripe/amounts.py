"""Stripe's amounts: integers in Stripe's idea of each currency's minor unit.

Stripe mostly follows ISO 4217 but not always, so amounts go through the money module here
and never by dividing by 100:
- zero-decimal currencies (JPY, KRW, ...) are sent as whole units, as in ISO;
- ISK is zero-decimal in ISO 4217 but stays two-decimal in Stripe's API (100 = 1 króna; only
  multiples of 100 are accepted since 2023);
- HUF and TWD are two-decimal for charges (as in ISO), zero-decimal only for payouts;
- three-decimal currencies (KWD, BHD, JOD, OMR, TND) are charged in multiples of 10.
"""
from __future__ import annotations

from decimal import Decimal

from ...money import Money, MoneyError, check_currency, from_decimal

ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


def stripe_exponent(currency: str) -> int:
    currency = check_currency(currency)
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2  # every other currency, ISK included


def from_stripe(amount: object, currency: object) -> Money:
    """Stripe's integer amount as exact Money; refuses what cannot be exact (ISK 5.50)."""
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise MoneyError(f"Stripe amount must be an integer, not {amount!r}")
    code = check_currency(currency)
    return from_decimal(Decimal(amount).scaleb(-stripe_exponent(code)), code)


def to_stripe(money: Money) -> int:
    """Money as the integer Stripe expects for a charge in its currency."""
    places = stripe_exponent(money.currency)
    value = money.decimal.scaleb(places)
    if value != value.to_integral_value():
        raise MoneyError(f"{money} cannot be charged through Stripe exactly")
    amount = int(value)
    if places == 3 and amount % 10:
        raise MoneyError(f"{money.currency} card payments must be a multiple of 0.010")
    return amount
