"""The thank-you list: a city's gifts as its organiser reads them out on stage, with what
each donor typed and whether the wall shows it. No Flask here.

An anonymous donor's name and message stay hidden here too: the organiser thanks "an
anonymous donor" for the amount, never reads out who asked not to be named.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..ledger.models import LedgerEntry
from ..money import Money
from .gifts import MESSAGE_MAX, NAME_MAX, _matched, _query, clean_text, is_held

# Shown on the desk; the CSV export has every gift.
DESK_LIMIT = 100


@dataclasses.dataclass(frozen=True)
class Thanks:
    id: int
    at: dt.datetime
    amount: Money
    anonymous: bool
    name: str | None           # as the donor typed it (cleaned); None when anonymous
    message: str | None
    name_state: str            # on the wall: shown, hidden, held (the word list) or none
    message_state: str
    matched: bool


def _state(text: str | None, hidden: bool, approved: bool, words: tuple[str, ...]) -> str:
    if not text:
        return "none"
    if hidden:
        return "hidden"
    return "held" if is_held(text, words) and not approved else "shown"


def thank_list(session: Session, campaign: Campaign, city: City, words: tuple[str, ...],
               limit: int | None = DESK_LIMIT) -> list[Thanks]:
    """The city's standing gifts, newest first (all of them with ``limit`` None)."""
    query = _query(campaign).where(LedgerEntry.city_id == city.id).order_by(LedgerEntry.id.desc())
    if limit is not None:
        query = query.limit(limit)
    rows = session.execute(query).all()
    matched = _matched(session, campaign.id, [row.id for row in rows])
    out = []
    for row in rows:
        anonymous = bool(row.anonymous)
        name = None if anonymous else clean_text(row.donor_name, NAME_MAX)
        message = None if anonymous else clean_text(row.message, MESSAGE_MAX)
        approved = bool(row.message_approved)
        out.append(Thanks(
            id=row.id, at=row.occurred_at, amount=Money(row.amount_minor, row.currency),
            anonymous=anonymous, name=name, message=message,
            name_state=_state(name, bool(row.name_hidden), approved, words),
            message_state=_state(message, bool(row.message_hidden), approved, words),
            matched=row.id in matched))
    return out
