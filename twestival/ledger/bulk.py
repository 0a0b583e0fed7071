"""Recording many entries at once (file imports): ``record`` semantics, set-based SQL.

A million-row import cannot afford five statements per row. ``record_many`` checks each entry
exactly as ``record`` does, prepares every row in Python first (so a chunk's write transaction
is no longer than its SQL), inserts them with one INSERT .. ON CONFLICT DO NOTHING
(executemany; the unique (stream, external_id) skips what is there, no set of known ids is
kept), and moves each touched total once per batch with the batch's sums. Entries that undo
another entry (refunds of an order) take the original's rates, as ``record`` does.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from collections import defaultdict
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..errors import InvalidInput, NotFound
from ..money import convert
from ..storage.database import utcnow
from ..storage.sql import fast_insert, prepared_insert_ignore
from . import chain, fx, limits, totals
from .models import CityTotal, EntryKind, LedgerEntry, UnassignedTotal
from .record import NewEntry, _check, _rates, place

LOOKUP_CHUNK = 900
RATES_KEY = "twestival.ledger.bulk.rates"


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    created: bool


def _convert(amount, rate) -> int:
    # A same-currency rate is exactly 1: skip the decimal arithmetic a million times over.
    return amount.minor if rate.source == "same" else convert(amount, rate).minor


def _texts(reporting, city) -> tuple[str, str | None]:
    # Formatting a rate costs more than converting with it: once per rate, not once per row.
    return reporting.text, city.text if city is not None else None


def _originals(session: Session, news: list[NewEntry]) -> dict[int, LedgerEntry]:
    ids = sorted({new.reverses_id for new in news if new.reverses_id is not None})
    found: dict[int, LedgerEntry] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        found.update((entry.id, entry) for entry in session.scalars(
            select(LedgerEntry).where(LedgerEntry.id.in_(ids[start:start + LOOKUP_CHUNK]))))
    return found


def _ours(session: Session, rows: list[dict], now) -> set[tuple[str, str]]:
    """Which of the rows this batch wrote: those stamped with its time (the others were there
    already, or a concurrent writer won the race for the id and its entry is the one)."""
    by_stream: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_stream[row["stream"]].append(row["external_id"])
    ours: set[tuple[str, str]] = set()
    for stream, ids in by_stream.items():
        for start in range(0, len(ids), LOOKUP_CHUNK):
            ours.update((stream, external_id) for external_id in session.scalars(
                select(LedgerEntry.external_id).where(
                    LedgerEntry.stream == stream,
                    LedgerEntry.external_id.in_(ids[start:start + LOOKUP_CHUNK]),
                    LedgerEntry.recorded_at == now)))
    return ours


def record_many(session: Session, news: list[NewEntry]) -> list[Outcome]:
    """Record each entry unless its (stream, external_id) is already there; order kept."""
    if not news:
        return []
    for new in news:
        _check(new)
    originals = _originals(session, news) if any(n.reverses_id for n in news) else {}
    now = utcnow()
    rows: list[dict] = []
    undone: dict[tuple[str, str], EntryKind] = {}   # what each reversing row undoes
    first: dict[tuple[str, str], int] = {}
    places: dict[tuple[int, int | None], tuple[Campaign, City | None]] = {}
    # Rates for a day do not change (fx caches them too); kept across an import's batches.
    rates: dict[tuple, tuple] = session.info.setdefault(RATES_KEY, {})
    if len(rates) > 10_000:
        rates.clear()
    ceilings: dict[tuple[str, object], int] = {}
    # Each campaign's fixed rate day, read once a batch: on a busy night one read per gift
    # cost more than the rates themselves.
    fixed: dict[int, dt.date | None] = {}
    for index, new in enumerate(news):
        key = (new.stream, new.external_id)
        if key in first:
            continue   # within one batch only the first of two rows with the same id counts
        first[key] = index
        campaign, city = places.get((new.campaign_id, new.city_id)) or place(session, new)
        places[(new.campaign_id, new.city_id)] = (campaign, city)
        occurred = new.occurred_at or now
        day = occurred.date()
        if campaign.id not in fixed:
            fixed[campaign.id] = fx.fixed_day(session, campaign.id)
        rate_day = fixed[campaign.id] or day
        original = None
        if new.reverses_id is not None:
            original = originals.get(new.reverses_id)
            if original is None or original.campaign_id != campaign.id:
                raise NotFound("the entry to reverse does not exist in this campaign")
            undone[key] = original.kind
            reporting_rate, city_rate = _rates(session, new, campaign, city, original, rate_day)
            reporting_text, city_text = _texts(reporting_rate, city_rate)
        else:
            rate_key = (new.amount.currency, new.campaign_id, new.city_id, rate_day)
            if rate_key not in rates:
                found = _rates(session, new, campaign, city, None, rate_day)
                rates[rate_key] = (*found, *_texts(*found))
            reporting_rate, city_rate, reporting_text, city_text = rates[rate_key]
        if new.kind is EntryKind.reversal and (
                original is None or (original.amount_minor < 0) == (new.amount.minor < 0)):
            raise InvalidInput("a reversal must have the opposite sign of the entry it reverses")
        ceiling_key = (new.amount.currency, day)
        if ceiling_key not in ceilings:
            ceilings[ceiling_key] = limits.gift_ceiling(session, new.amount.currency, day).minor
        if abs(new.amount.minor) > ceilings[ceiling_key] or original is not None:
            limits.check_gift(session, new.amount, day,
                              original.amount_minor if original is not None else None)
        same = city_rate is None or city_rate.source == "same"
        rows.append(dict(
            campaign_id=campaign.id, city_id=new.city_id, stream=new.stream,
            external_id=new.external_id, kind=new.kind,
            amount_minor=new.amount.minor, currency=new.amount.currency, fee_minor=new.fee_minor,
            city_minor=_convert(new.amount, city_rate) if city_rate else None,
            city_fx_rate=None if same else city_text,
            city_fx_date=None if same else city_rate.date,
            reporting_minor=_convert(new.amount, reporting_rate),
            reporting_currency=campaign.currency,
            fx_rate=reporting_text, fx_date=reporting_rate.date,
            occurred_at=occurred, recorded_at=now,
            donor_name=new.donor_name, message=new.message, anonymous=new.anonymous,
            provisional=new.provisional, reverses_id=new.reverses_id, payload_id=new.payload_id,
            created_by_id=new.created_by_id, note=new.note, meta=new.meta))
        limits.check_converted(rows[-1]["city_minor"], rows[-1]["reporting_minor"])

    inserted = fast_insert(session, LedgerEntry.__table__, rows, ["stream", "external_id"])
    if inserted == len(rows):
        # Every row went in: SQLite and psycopg count an executemany's rows (a driver that
        # counted only the last statement's, or none, could not reach len(rows) here).
        created = set(first)
    elif inserted == 0 and session.get_bind().dialect.name == "sqlite":
        created = set()        # all were there already (a re-imported file)
    else:
        created = _ours(session, rows, now)
    written = [r for r in rows if (r["stream"], r["external_id"]) in created]
    by_place: dict[tuple[int, str], list[str]] = defaultdict(list)
    for row in written:
        by_place[row["campaign_id"], row["stream"]].append(row["external_id"])
    for (campaign_id, stream), external_ids in by_place.items():
        chain.note_keys(session, campaign_id, stream, external_ids)
    _move_totals(session, written, undone)
    return [Outcome(key in created and first[key] == index)
            for index, key in enumerate((n.stream, n.external_id) for n in news)]


def _move_totals(session: Session, rows: list[dict],
                 undone: dict[tuple[str, str], EntryKind]) -> None:
    """The batch's effect on the running totals, as ``totals.apply`` would move them one by one."""
    cities: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, 0])
    unassigned: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    recorded = session.info.setdefault(totals.RECORDED_KEY, collections.Counter())
    for row in rows:
        recorded[row["stream"], row["kind"].value] += 1
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
            sums[4] += 1 if row["kind"] is EntryKind.donation else totals.donation_delta(
                SimpleNamespace(kind=row["kind"]), undone.get((row["stream"], row["external_id"])))
            sums[5] = row["campaign_id"]
    add_to_totals(session, cities, unassigned)


def add_to_totals(session: Session, cities: dict[int, list[int]],
                  unassigned: dict[tuple[int, str], list[int]]) -> None:
    """Move the running totals by a batch's sums: per city [raised, reporting, provisional,
    provisional reporting, donations, campaign id]; per (campaign id, currency) in the
    unassigned queue [amount, reporting, entries]."""
    connection = session.connection()
    # Rows in one order (ids, then keys) in every transaction: two processes moving the same
    # totals on PostgreSQL wait for each other instead of deadlocking.
    unassigned = dict(sorted(unassigned.items()))
    cities = dict(sorted(cities.items()))
    for (campaign_id, currency), (amount, reporting, count) in unassigned.items():
        totals.check_delta(amount, reporting)
        connection.execute(prepared_insert_ignore(session, UnassignedTotal.__table__,
                                                  ("campaign_id", "currency")),
                           {"campaign_id": campaign_id, "currency": currency,
                            "amount_minor": 0, "reporting_minor": 0, "entries": 0})
        moved = connection.execute(totals.ADD_TO_UNASSIGNED, {
            "p_campaign_id": campaign_id, "p_currency": currency, "p_minor": amount,
            "p_reporting": reporting, "p_entries": count})
        if moved.rowcount != 1:
            raise limits.total_limit_reached()
        totals.expire_loaded(session, UnassignedTotal, (campaign_id, currency))
        totals.note_change(session, campaign_id, None)
    if cities:
        params = [{"p_city_id": city_id, "p_minor": raised, "p_reporting": reporting,
                   "p_provisional": prov, "p_provisional_reporting": prov_reporting,
                   "p_donations": donations, "p_now": utcnow()}
                  for city_id, (raised, reporting, prov, prov_reporting, donations, _c)
                  in cities.items()]
        for row in params:
            totals.check_delta(row["p_minor"], row["p_reporting"], row["p_provisional"],
                               row["p_provisional_reporting"])
        # One executemany for every city the batch touched (the count of rows it moved is
        # summed by both drivers; one fewer means a total at its limit, or no total row).
        moved = connection.execute(totals.ADD_TO_CITY, params)
        if moved.rowcount != len(params):
            totals.check_moved(session, cities, moved.rowcount)
    for city_id, (*_sums, campaign_id) in cities.items():
        totals.expire_loaded(session, CityTotal, city_id)
        totals.note_change(session, campaign_id, city_id)
