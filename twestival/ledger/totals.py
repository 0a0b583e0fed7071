"""Running totals, moved by each entry in the same transaction as the entry itself."""
from __future__ import annotations

import collections

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from ..storage.database import utcnow
from .models import CityTotal, EntryKind, LedgerEntry, UnassignedTotal
from ..storage.sql import insert_ignore, prepared_insert_ignore

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


# Built once (building a statement costs more than running it); ledger.bulk moves a batch's
# sums with them too. Plain table statements, so a CityTotal loaded in this session is expired
# by hand below rather than evaluated in Python.
_city = CityTotal.__table__.c
ADD_TO_CITY = update(CityTotal.__table__).where(_city.city_id == bindparam("p_city_id")).values(
    raised_minor=_city.raised_minor + bindparam("p_minor"),
    raised_reporting_minor=_city.raised_reporting_minor + bindparam("p_reporting"),
    provisional_minor=_city.provisional_minor + bindparam("p_provisional"),
    provisional_reporting_minor=_city.provisional_reporting_minor
    + bindparam("p_provisional_reporting"),
    donations=_city.donations + bindparam("p_donations"),
    updated_at=bindparam("p_now", type_=_city.updated_at.type))
_unassigned = UnassignedTotal.__table__.c
ADD_TO_UNASSIGNED = update(UnassignedTotal.__table__).where(
    _unassigned.campaign_id == bindparam("p_campaign_id"),
    _unassigned.currency == bindparam("p_currency")).values(
    amount_minor=_unassigned.amount_minor + bindparam("p_minor"),
    reporting_minor=_unassigned.reporting_minor + bindparam("p_reporting"),
    entries=_unassigned.entries + bindparam("p_entries"))


def apply(session: Session, entry: LedgerEntry, reversed_kind: EntryKind | None) -> None:
    if entry.city_id is None:
        session.execute(prepared_insert_ignore(session, UnassignedTotal.__table__,
                                               ("campaign_id", "currency")),
                        {"campaign_id": entry.campaign_id, "currency": entry.currency,
                         "amount_minor": 0, "reporting_minor": 0, "entries": 0})
        session.execute(ADD_TO_UNASSIGNED, {
            "p_campaign_id": entry.campaign_id, "p_currency": entry.currency,
            "p_minor": entry.amount_minor, "p_reporting": entry.reporting_minor, "p_entries": 1})
        expire_loaded(session, UnassignedTotal, (entry.campaign_id, entry.currency))
    else:
        provisional = entry.provisional
        session.execute(ADD_TO_CITY, {
            "p_city_id": entry.city_id, "p_minor": entry.city_minor,
            "p_reporting": entry.reporting_minor,
            "p_provisional": entry.city_minor if provisional else 0,
            "p_provisional_reporting": entry.reporting_minor if provisional else 0,
            "p_donations": donation_delta(entry, reversed_kind), "p_now": utcnow()})
        expire_loaded(session, CityTotal, entry.city_id)
    note_change(session, entry.campaign_id, entry.city_id)
    session.info.setdefault(RECORDED_KEY, collections.Counter())[entry.stream, entry.kind.value] += 1


def expire_loaded(session: Session, model, ident) -> None:
    """A total this session already holds is read again on next use, so it shows the change."""
    loaded = session.identity_map.get(session.identity_key(model, ident))
    if loaded is not None:
        session.expire(loaded)


def confirm(session: Session, entry: LedgerEntry) -> None:
    session.execute(
        update(CityTotal).where(CityTotal.city_id == entry.city_id)
        .values(provisional_minor=CityTotal.provisional_minor - entry.city_minor,
                provisional_reporting_minor=CityTotal.provisional_reporting_minor
                - entry.reporting_minor,
                updated_at=utcnow()))
    note_change(session, entry.campaign_id, entry.city_id)
