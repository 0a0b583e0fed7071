"""Recompute every running total from the entries and report where the two disagree."""
from __future__ import annotations

import dataclasses

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from ..campaigns.models import Campaign, City
from .models import CityTotal, EntryConfirmation, EntryKind, LedgerEntry, UnassignedTotal


@dataclasses.dataclass(frozen=True)
class Drift:
    where: str
    field: str
    stored: int
    computed: int

    def __str__(self) -> str:
        return f"{self.where}: {self.field} stored {self.stored}, entries say {self.computed}"


CITY_FIELDS = ("raised_minor", "raised_reporting_minor", "provisional_minor",
               "provisional_reporting_minor", "donations")


def computed_city_totals(session: Session, campaign_id: int) -> dict[int, dict[str, int]]:
    reversed_entry = aliased(LedgerEntry)
    outstanding = and_(LedgerEntry.provisional, EntryConfirmation.id.is_(None))
    count = case((LedgerEntry.kind == EntryKind.donation, 1),
                 (and_(LedgerEntry.kind == EntryKind.reversal,
                       reversed_entry.kind == EntryKind.donation), -1), else_=0)
    rows = session.execute(
        select(LedgerEntry.city_id,
               func.coalesce(func.sum(LedgerEntry.city_minor), 0),
               func.coalesce(func.sum(LedgerEntry.reporting_minor), 0),
               func.coalesce(func.sum(case((outstanding, LedgerEntry.city_minor), else_=0)), 0),
               func.coalesce(func.sum(case((outstanding, LedgerEntry.reporting_minor), else_=0)), 0),
               func.coalesce(func.sum(count), 0))
        .outerjoin(EntryConfirmation, EntryConfirmation.entry_id == LedgerEntry.id)
        .outerjoin(reversed_entry, reversed_entry.id == LedgerEntry.reverses_id)
        .where(LedgerEntry.campaign_id == campaign_id, LedgerEntry.city_id.is_not(None))
        .group_by(LedgerEntry.city_id))
    return {row[0]: dict(zip(CITY_FIELDS, (int(v) for v in row[1:]))) for row in rows}


def reconcile(session: Session, campaign: Campaign) -> list[Drift]:
    drifts: list[Drift] = []
    computed = computed_city_totals(session, campaign.id)
    stored_rows = session.execute(
        select(City.slug, CityTotal).join(CityTotal, CityTotal.city_id == City.id)
        .where(City.campaign_id == campaign.id)).all()
    seen = set()
    for slug, total in stored_rows:
        seen.add(total.city_id)
        want = computed.get(total.city_id, dict.fromkeys(CITY_FIELDS, 0))
        for field in CITY_FIELDS:
            if getattr(total, field) != want[field]:
                drifts.append(Drift(f"city {slug}", field, getattr(total, field), want[field]))
    for city_id in computed.keys() - seen:
        drifts.append(Drift(f"city id {city_id}", "total row", 0, 1))

    unassigned = {(row[0]): (int(row[1]), int(row[2]), int(row[3])) for row in session.execute(
        select(LedgerEntry.currency, func.sum(LedgerEntry.amount_minor),
               func.sum(LedgerEntry.reporting_minor), func.count())
        .where(LedgerEntry.campaign_id == campaign.id, LedgerEntry.city_id.is_(None))
        .group_by(LedgerEntry.currency))}
    stored_unassigned = {row.currency: row for row in session.scalars(
        select(UnassignedTotal).where(UnassignedTotal.campaign_id == campaign.id))}
    for currency in unassigned.keys() | stored_unassigned.keys():
        want = unassigned.get(currency, (0, 0, 0))
        row = stored_unassigned.get(currency)
        have = (row.amount_minor, row.reporting_minor, row.entries) if row else (0, 0, 0)
        for field, h, w in zip(("amount_minor", "reporting_minor", "entries"), have, want):
            if h != w:
                drifts.append(Drift(f"unassigned {currency}", field, h, w))
    return drifts
