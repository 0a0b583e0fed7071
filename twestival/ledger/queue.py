"""The campaign's unassigned queue: money no stream could tie to a city, until a coordinator
places it (``record.assign``: an audited pair of adjustments)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import Conflict, NotFound
from ..money import Money
from .models import LedgerEntry
from .record import Recorded, assign


def _moved(campaign_id: int):
    return select(LedgerEntry.reverses_id).where(
        LedgerEntry.campaign_id == campaign_id, LedgerEntry.stream == "adjustment",
        LedgerEntry.external_id.like("unassign:%"))


def waiting(session: Session, campaign_id: int) -> list[LedgerEntry]:
    """Unassigned money not yet placed, oldest first (refunds of it follow their original)."""
    return list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.campaign_id == campaign_id,
                                  LedgerEntry.city_id.is_(None),
                                  LedgerEntry.reverses_id.is_(None),
                                  LedgerEntry.id.not_in(_moved(campaign_id)))
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)))


def place(session: Session, campaign_id: int, entry_id: int, city_id: int, *,
          by_user_id: int | None, reason: str) -> Recorded:
    """Assign one waiting entry to a city; a second attempt is refused, never counted."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None or entry.campaign_id != campaign_id:
        raise NotFound("no such entry in this campaign")
    if entry.city_id is not None or entry.reverses_id is not None:
        raise Conflict("only money waiting in the unassigned queue can be assigned")
    if session.scalar(select(LedgerEntry.id).where(
            LedgerEntry.stream == "adjustment",
            LedgerEntry.external_id == f"unassign:{entry.id}")) is not None:
        raise Conflict("this money was already assigned to a city")
    placed = assign(session, entry.id, city_id, by_user_id=by_user_id, reason=reason)
    audit.record(session, by_user_id, "money.assigned", subject=f"entry {entry.id}",
                 campaign_id=campaign_id, city_id=city_id, reason=reason,
                 details={"amount": Money(entry.amount_minor, entry.currency).major_str(),
                          "currency": entry.currency})
    return placed
