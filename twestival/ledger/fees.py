"""Fees learnt after the fact: kept beside the entry they belong to, never in it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from .models import EntryFee, LedgerEntry
from .sql import insert_ignore


def learn_fee(session: Session, entry_id: int, fee_minor: int, currency: str, source: str,
              payload_id: int | None = None) -> bool:
    """Attach a fee to an entry once; True when this call attached it. An entry written with
    its fee, or whose fee is already known, keeps what it has."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise InvalidInput(f"no ledger entry {entry_id}")
    if currency != entry.currency:
        raise InvalidInput(f"a fee in {currency} cannot be set on an entry in {entry.currency}")
    if fee_minor < 0:
        raise InvalidInput("a fee cannot be negative")
    if entry.fee_minor is not None:
        return False
    return session.execute(insert_ignore(
        session, EntryFee.__table__, ["entry_id"], entry_id=entry_id, fee_minor=fee_minor,
        currency=currency, source=source[:200], payload_id=payload_id)).scalar() is not None
