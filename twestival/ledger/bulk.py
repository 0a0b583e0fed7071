"""Recording many entries at once (file imports): ``record`` semantics, set-based SQL.

A million-row import cannot afford five statements per row. ``record_many`` checks each entry
exactly as ``record`` does, looks the batch's ids up in one query, inserts the new ones with one
INSERT .. ON CONFLICT DO NOTHING RETURNING (executemany), and moves each touched total once per
batch with the batch's sums. Entries that reverse another entry go through ``record`` (they
need the original's rates); this path refuses them.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..database import utcnow
from ..errors import InvalidInput
from ..money import convert
from . import totals
from .models import CityTotal, EntryKind, LedgerEntry, UnassignedTotal
from .record import NewEntry, _check, _rates, place
from .sql import insert_ignore

LOOKUP_CHUNK = 900


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    entry_id: int | None   # known for entries that were already there; new ones: look up
    created: bool


def fast_insert(session: Session, table, rows: list[dict], conflict_columns: list[str]) -> int:
    """INSERT .. ON CONFLICT DO NOTHING for many rows through the driver's executemany.

    The statement is compiled once and each value goes through its column type's own bind
    processor, as SQLAlchemy would do, without its per-row bookkeeping (which costs more
    than the database's work for a million rows). Returns the driver's count of rows written.
    """
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    stmt = dialect_insert(session)(table).on_conflict_do_nothing(index_elements=conflict_columns)
    compiled = stmt.compile(dialect=dialect, column_keys=keys)
    processors = {key: table.c[key].type._cached_bind_processor(dialect) for key in keys}
    # None is bound as SQL NULL (also for JSON columns, where SQLAlchemy would write 'null').
    if compiled.positional:
        order = [(name, processors[name]) for name in compiled.positiontup]
        params = [tuple(row[k] if p is None or row[k] is None else p(row[k]) for k, p in order)
                  for row in rows]
    else:
        params = [{k: (row[k] if processors[k] is None or row[k] is None
                       else processors[k](row[k])) for k in keys} for row in rows]
    return connection.exec_driver_sql(str(compiled), params).rowcount


def dialect_insert(session: Session):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _existing(session: Session, stream: str, ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start:start + LOOKUP_CHUNK]
        for external_id, entry_id in session.execute(
                select(LedgerEntry.external_id, LedgerEntry.id)
                .where(LedgerEntry.stream == stream, LedgerEntry.external_id.in_(chunk))):
            found[external_id] = entry_id
    return found


def _convert(amount, rate) -> int:
    # A same-currency rate is exactly 1: skip the decimal arithmetic a million times over.
    return amount.minor if rate.source == "same" else convert(amount, rate).minor


def record_many(session: Session, news: list[NewEntry]) -> list[Outcome]:
    """Record each entry unless its (stream, external_id) is already there; order kept."""
    if not news:
        return []
    for new in news:
        _check(new)
        if new.reverses_id is not None:
            raise InvalidInput("record_many does not take reversing entries; use record()")
    by_stream: dict[str, list[str]] = defaultdict(list)
    for new in news:
        by_stream[new.stream].append(new.external_id)
    known: dict[tuple[str, str], int] = {}
    for stream, ids in by_stream.items():
        for external_id, entry_id in _existing(session, stream, list(set(ids))).items():
            known[(stream, external_id)] = entry_id

    now = utcnow()
    rows: list[dict] = []
    pending: set[tuple[str, str]] = set()
    places: dict[tuple[int, int | None], tuple[Campaign, City | None]] = {}
    rates: dict[tuple, tuple] = {}
    for new in news:
        key = (new.stream, new.external_id)
        if key in known or key in pending:
            continue
        pending.add(key)
        campaign, city = places.get((new.campaign_id, new.city_id)) or place(session, new)
        places[(new.campaign_id, new.city_id)] = (campaign, city)
        occurred = new.occurred_at or now
        day = occurred.date()
        rate_key = (new.amount.currency, new.campaign_id, new.city_id, day)
        if rate_key not in rates:
            rates[rate_key] = _rates(session, new, campaign, city, None, day)
        reporting_rate, city_rate = rates[rate_key]
        reporting = _convert(new.amount, reporting_rate)
        city_minor = _convert(new.amount, city_rate) if city_rate else None
        same = city_rate is None or city_rate.source == "same"
        rows.append(dict(
            campaign_id=campaign.id, city_id=new.city_id, stream=new.stream,
            external_id=new.external_id, kind=new.kind,
            amount_minor=new.amount.minor, currency=new.amount.currency, fee_minor=new.fee_minor,
            city_minor=city_minor,
            city_fx_rate=None if same else city_rate.text,
            city_fx_date=None if same else city_rate.date,
            reporting_minor=reporting, reporting_currency=campaign.currency,
            fx_rate=reporting_rate.text, fx_date=reporting_rate.date,
            occurred_at=occurred, recorded_at=now,
            donor_name=new.donor_name, message=new.message, anonymous=new.anonymous,
            provisional=new.provisional, reverses_id=None, payload_id=new.payload_id,
            created_by_id=new.created_by_id, note=new.note, meta=new.meta))

    created: set[tuple[str, str]] = set()
    if rows:
        inserted = fast_insert(session, LedgerEntry.__table__, rows, ["stream", "external_id"])
        if inserted == len(rows) and session.get_bind().dialect.name == "sqlite":
            created = {(r["stream"], r["external_id"]) for r in rows}
        else:
            # Some lost a race with a concurrent writer (theirs is the one entry), or the
            # driver cannot say: ours are the ones stamped with this batch's time.
            created = {(stream, external_id) for stream, external_id in session.execute(
                select(LedgerEntry.stream, LedgerEntry.external_id)
                .where(LedgerEntry.recorded_at == now,
                       LedgerEntry.campaign_id.in_({r["campaign_id"] for r in rows})))}
        _move_totals(session, [r for r in rows if (r["stream"], r["external_id"]) in created])
    # Within one batch only the first of two rows with the same id counts as created.
    first: dict[tuple[str, str], int] = {}
    for index, new in enumerate(news):
        first.setdefault((new.stream, new.external_id), index)
    return [Outcome(known.get(key), key in created and first[key] == index)
            for index, key in enumerate((n.stream, n.external_id) for n in news)]


def _move_totals(session: Session, rows: list[dict]) -> None:
    """The batch's effect on the running totals, as ``totals.apply`` would move them one by one."""
    cities: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    unassigned: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        if row["city_id"] is None:
            sums = unassigned[(row["campaign_id"], row["currency"])]
            sums[0] += row["amount_minor"]
            sums[1] += row["reporting_minor"]
            sums[2] += 1
        else:
            sums = cities[row["city_id"]]
            sums[0] += row["city_minor"]
            sums[1] += row["reporting_minor"]
            if row["provisional"]:
                sums[2] += row["city_minor"]
                sums[3] += row["reporting_minor"]
            sums[4] += 1 if row["kind"] is EntryKind.donation else 0
            sums[5] = row["campaign_id"]
    for (campaign_id, currency), (amount, reporting, count) in unassigned.items():
        session.execute(insert_ignore(
            session, UnassignedTotal.__table__, ["campaign_id", "currency"],
            campaign_id=campaign_id, currency=currency, amount_minor=0, reporting_minor=0,
            entries=0))
        session.execute(
            update(UnassignedTotal)
            .where(UnassignedTotal.campaign_id == campaign_id,
                   UnassignedTotal.currency == currency)
            .values(amount_minor=UnassignedTotal.amount_minor + amount,
                    reporting_minor=UnassignedTotal.reporting_minor + reporting,
                    entries=UnassignedTotal.entries + count))
        totals.note_change(session, campaign_id, None)
    for city_id, (raised, reporting, prov, prov_reporting, donations, campaign_id) in cities.items():
        session.execute(
            update(CityTotal).where(CityTotal.city_id == city_id)
            .values(raised_minor=CityTotal.raised_minor + raised,
                    raised_reporting_minor=CityTotal.raised_reporting_minor + reporting,
                    provisional_minor=CityTotal.provisional_minor + prov,
                    provisional_reporting_minor=CityTotal.provisional_reporting_minor
                    + prov_reporting,
                    donations=CityTotal.donations + donations,
                    updated_at=utcnow()))
        totals.note_change(session, campaign_id, city_id)
