"""Running totals, moved by each entry in the same transaction as the entry itself."""
from __future__ import annotations

import collections

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..database import utcnow
from .models import CityTotal, EntryKind, LedgerEntry, UnassignedTotal
from .sql import insert_ignore

# Changed (campaign_id, city_id or None) pairs are collected here on the session; the live
# layer reads them after commit, so nothing is pushed for a transaction that rolled back.
CHANGES_KEY = "twestival.ledger.changes"
# New entries per (stream, kind) in this transaction, for the metrics counted after commit.
RECORDED_KEY = "twestival.ledger.recorded"


def open_city_total(session: Session, city) -> None:
    session.execute(insert_ignore(session, CityTotal.__table__, ["city_id"],
                                  city_id=city.id, campaign_id=city.campaign_id))


def donation_delta(entry: LedgerEntry, reversed_kind: EntryKind | None) -> int:
    """A gift counts once; undoing it entirely (a reversal) takes it off the count again."""
    if entry.kind is EntryKind.donation:
        return 1
    if entry.kind is EntryKind.reversal and reversed_kind is EntryKind.donation:
        return -1
    return 0


def note_change(session: Session, campaign_id: int, city_id: int | None) -> None:
    session.info.setdefault(CHANGES_KEY, set()).add((campaign_id, city_id))


def apply(session: Session, entry: LedgerEntry, reversed_kind: EntryKind | None) -> None:
    if entry.city_id is None:
        session.execute(insert_ignore(session, UnassignedTotal.__table__,
                                      ["campaign_id", "currency"],
                                      campaign_id=entry.campaign_id, currency=entry.currency,
                                      amount_minor=0, reporting_minor=0, entries=0))
        session.execute(
            update(UnassignedTotal)
            .where(UnassignedTotal.campaign_id == entry.campaign_id,
                   UnassignedTotal.currency == entry.currency)
            .values(amount_minor=UnassignedTotal.amount_minor + entry.amount_minor,
                    reporting_minor=UnassignedTotal.reporting_minor + entry.reporting_minor,
                    entries=UnassignedTotal.entries + 1))
    else:
        provisional = entry.provisional
        session.execute(
            update(CityTotal).where(CityTotal.city_id == entry.city_id)
            .values(raised_minor=CityTotal.raised_minor + entry.city_minor,
                    raised_reporting_minor=CityTotal.raised_reporting_minor + entry.reporting_minor,
                    provisional_minor=CityTotal.provisional_minor
                    + (entry.city_minor if provisional else 0),
                    provisional_reporting_minor=CityTotal.provisional_reporting_minor
                    + (entry.reporting_minor if provisional else 0),
                    donations=CityTotal.donations + donation_delta(entry, reversed_kind),
                    updated_at=utcnow()))
    note_change(session, entry.campaign_id, entry.city_id)
    session.info.setdefault(RECORDED_KEY, collections.Counter())[entry.stream, entry.kind.value] += 1


def confirm(session: Session, entry: LedgerEntry) -> None:
    session.execute(
        update(CityTotal).where(CityTotal.city_id == entry.city_id)
        .values(provisional_minor=CityTotal.provisional_minor - entry.city_minor,
                provisional_reporting_minor=CityTotal.provisional_reporting_minor
                - entry.reporting_minor,
                updated_at=utcnow()))
    note_change(session, entry.campaign_id, entry.city_id)
