"""How large one entry and one running total may be, so that no sum ever leaves 64 bits.

A gift may be at most ``GIFT_CEILING_EUR`` (ten million euros) in its own currency, converted
at the ECB reference rate of its day: 10,000,000.00 EUR, about 8,600,000.00 GBP, about
180,000,000,000.00 IDR. Anything larger is refused by every stream (422 from the API, a form
message for cash, a rejected webhook or import with the reason). Each of an entry's three
amounts (as it arrived, in the city's currency, in the reporting currency) also stays within
``ENTRY_LIMIT`` minor units, whatever rate a coordinator set for an unusual currency.

A running total (a city's, or a currency's in the unassigned queue) stays within
``TOTAL_LIMIT`` = 2**53 - 1 minor units: every JavaScript client reads it exactly, and even
hundreds of such totals add up inside a signed 64-bit integer (SQLite's SUM raises past it,
and an overflowing ``+`` turns a SQLite integer into a float). The limit is checked in the
same UPDATE that moves the total, so two writers cannot both slip under it; an entry that
would cross it is refused with ``TotalLimitReached`` and nothing of it is written.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..money import MAX_MINOR, Money, convert, format_money
from . import fx

GIFT_CEILING_EUR = Decimal("10000000")
ENTRY_LIMIT = MAX_MINOR
TOTAL_LIMIT = 2**53 - 1


class GiftTooLarge(InvalidInput):
    pass


class TotalLimitReached(InvalidInput):
    pass


def gift_ceiling(session: Session, currency: str, on: dt.date | None = None) -> Money:
    """The largest single gift in ``currency`` on ``on`` (today by default)."""
    rate = fx.rate_for(session, "EUR", currency, on or dt.date.today())
    return convert(Money(int(GIFT_CEILING_EUR * 100), "EUR"), rate)


def check_gift(session: Session, amount: Money, on: dt.date,
               undoes: int | None = None) -> None:
    """Refuse an amount beyond the ceiling. Money undoing an entry (``undoes``: its amount)
    is never refused for being as large as what it undoes, whatever the rate did since."""
    size = abs(amount.minor)
    if undoes is not None and size <= abs(undoes):
        return
    ceiling = gift_ceiling(session, amount.currency, on)
    if size > ceiling.minor or size > ENTRY_LIMIT:
        raise GiftTooLarge(
            f"one gift can be at most {format_money(ceiling)} (the equivalent of "
            f"{format_money(Money(int(GIFT_CEILING_EUR * 100), 'EUR'))}); "
            f"this one is {format_money(Money(size, amount.currency))}")


def check_converted(*minors: int | None) -> None:
    """The converted amounts of an entry stay within the entry limit too."""
    for minor in minors:
        if minor is not None and abs(minor) > ENTRY_LIMIT:
            raise GiftTooLarge("this amount is too large once converted to the campaign's or "
                               "city's currency")


def total_limit_reached() -> TotalLimitReached:
    return TotalLimitReached(
        f"this entry would take a running total past its limit of {TOTAL_LIMIT:,} minor units; "
        "nothing was recorded (see docs/ledger-chain.md)")
