"""Walking a campaign's hash chain: what changed, what went missing, what was slipped in.

Each link is checked against the link before it as stored, so one changed entry is named
once (the links after it still chain to its stored hash). The totals are checked too, with
``reconcile``. ``digest`` and ``export_rows`` are what anyone outside may hold and check
(scripts/verify_digest.py).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..campaigns.models import Campaign
from ..storage.database import utcnow
from .chain import COLUMNS, FIELDS, GENESIS, PERSONAL, fields_of, link_hash, personal_digest
from .models import ChainHead, LedgerEntry, LedgerLink, LedgerSalt
from .reconcile import reconcile

WINDOW = 5_000
_entry = LedgerEntry.__table__.c


def _walk(session: Session, campaign_id: int):
    link = LedgerLink.__table__.c
    salt = LedgerSalt.__table__.c
    query = (select(link.entry_id, link.position, link.personal, link.hash,
                    _entry.id.label("found"), salt.salt, *COLUMNS[1:])
             .select_from(LedgerLink.__table__)
             .outerjoin(LedgerEntry.__table__, _entry.id == link.entry_id)
             .outerjoin(LedgerSalt.__table__, salt.entry_id == link.entry_id)
             .where(link.campaign_id == campaign_id).order_by(link.position))
    after = 0
    while rows := session.execute(query.where(link.position > after).limit(WINDOW)).all():
        yield from rows
        after = rows[-1].position


def _fields(row) -> list:
    view = row._mapping
    return [row.entry_id] + [view[name] for name in FIELDS[1:]]


def _personal(row) -> list:
    view = row._mapping
    return [view[name] for name in PERSONAL]


def check_chain(session: Session, campaign_id: int) -> list[str]:
    problems: list[str] = []
    previous, count = GENESIS, 0
    for row in _walk(session, campaign_id):
        count += 1
        where = f"entry #{row.entry_id} (position {row.position})"
        if row.position != count:
            problems.append(f"position {count}: missing (links up to position {row.position - 1} "
                            "were removed)")
            count = row.position
        if row.found is None:
            problems.append(f"{where}: removed from the ledger")
        else:
            personal = _personal(row)
            if row.salt is not None:
                if personal_digest(personal, row.salt) != row.personal:
                    problems.append(f"{where}: its donor data was changed")
            elif any(value is not None for value in personal):
                problems.append(f"{where}: it holds donor data it was not sealed with")
            if link_hash(row.position, previous, fields_of(_fields(row)), row.personal) != row.hash:
                problems.append(f"{where}: changed since it was recorded")
        previous = row.hash
    head = session.get(ChainHead, campaign_id)
    if (head.entries if head else 0, head.head if head else GENESIS) != (count, previous):
        problems.append(f"the chain head says {head.entries if head else 0} entries, the links "
                        f"{count}: links were removed or added around the ledger")
    link = aliased(LedgerLink)
    for entry_id in session.scalars(
            select(LedgerEntry.id).outerjoin(link, link.entry_id == LedgerEntry.id)
            .where(LedgerEntry.campaign_id == campaign_id, link.entry_id.is_(None))
            .order_by(LedgerEntry.id).limit(20)):
        problems.append(f"entry #{entry_id}: not in the chain (inserted around the ledger, "
                        "out of order)")
    return problems


def verify(session: Session, campaign: Campaign) -> list[str]:
    """Every problem with the campaign's chain and totals, the first one found first."""
    return check_chain(session, campaign.id) + [f"total {drift}"
                                                for drift in reconcile(session, campaign)]


def digest(session: Session, campaign: Campaign) -> dict:
    head = session.get(ChainHead, campaign.id)
    return {"campaign": campaign.slug,
            "entries": head.entries if head else 0,
            "head": head.head if head else GENESIS,
            "at": utcnow().astimezone(dt.timezone.utc).isoformat(timespec="seconds")}


EXPORT_COLUMNS = ("position", "hash", "personal", *FIELDS)


def export_rows(session: Session, campaign: Campaign) -> Iterator[list[str | None]]:
    """The public chain: every link with the fields its hash covers, no personal data."""
    for row in _walk(session, campaign.id):
        if row.found is None:
            fields = [None] * len(FIELDS)
            fields[0] = str(row.entry_id)
        else:
            fields = fields_of(_fields(row))
        yield [str(row.position), row.hash, row.personal, *fields]
