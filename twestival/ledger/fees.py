"""Fees learnt after the fact: kept beside the entry they belong to, never in it."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..money import Money, Rate, exponent
from .models import EntryFee, LedgerEntry
from ..storage.sql import insert_ignore


def in_entry_currency(fee: Money, rate: Rate) -> Money:
    """``fee`` in ``rate.base``, for a rate that gives ``rate.value`` units of the fee's currency
    for one unit of the base (the direction Stripe states it: charge currency -> settlement
    currency). Divided, not multiplied by a rounded inverse; banker's rounding to the minor
    unit once, at the end."""
    if rate.quote != fee.currency:
        raise InvalidInput(f"the rate is to {rate.quote}, the fee is in {fee.currency}")
    if rate.value <= 0:
        raise InvalidInput("an exchange rate must be positive")
    value = (fee.decimal / rate.value).scaleb(exponent(rate.base))
    return Money(int(value.to_integral_value(rounding=ROUND_HALF_EVEN)), rate.base)


def learn_fee(session: Session, entry_id: int, fee_minor: int, currency: str, source: str,
              payload_id: int | None = None, *, rate: Rate | None = None) -> bool:
    """Attach a fee to an entry once; True when this call attached it. An entry written with
    its fee, or whose fee is already known, keeps what it has. A negative fee (one given back)
    only on an entry that undoes another.

    A fee in another currency than the entry's needs ``rate`` (the entry's currency to the
    fee's): the fee is kept as stated and, beside it, converted at that rate with its date."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise InvalidInput(f"no ledger entry {entry_id}")
    if fee_minor < 0 and entry.reverses_id is None:
        # Only money coming back can bring its fee back (a won dispute's fee, say).
        raise InvalidInput("a fee cannot be negative")
    converted = None
    if currency != entry.currency:
        if rate is None or rate.base != entry.currency:
            raise InvalidInput(f"a fee in {currency} on an entry in {entry.currency} needs the "
                               f"{entry.currency} to {currency} rate that applied")
        converted = in_entry_currency(Money(fee_minor, currency), rate)
    if entry.fee_minor is not None:
        return False
    return session.execute(insert_ignore(
        session, EntryFee.__table__, ["entry_id"], entry_id=entry_id, fee_minor=fee_minor,
        currency=currency, source=source[:200], payload_id=payload_id,
        entry_minor=converted.minor if converted else None,
        fx_rate=rate.text if converted else None,
        fx_date=rate.date if converted else None,
        fx_source=rate.source[:16] if converted else None)).scalar() is not None
