"""Imported files (ticket-sale exports, bank statements): archive, check, record, report.

The file is archived verbatim and committed first (so a failure never loses it). Then two
passes. The first reads the whole file without writing anything: every row is parsed and
checked, the money it carries must be convertible, and the parsed rows are kept in a private
temporary SQLite file (not in memory), so a million-row file costs no more memory than a small
one. Any malformed row refuses the whole file with every bad line named, and the ledger is
untouched (the archived file is kept, marked ``rejected``). Only a file that passed is recorded,
from the staged rows (on SQLite by INSERT .. SELECT straight from the staging file, ``direct``;
elsewhere through the stream's recorder in Python), in chunks of about ``CHUNK_ROWS`` file rows
committed one by one: SQLite has one writer, a chunk holds the write lock for 5-10 ms, and a
webhook waiting for it gets it before the next chunk (``writelock``), so webhooks keep flowing
during a long import. A chunk is all-or-nothing; should the process die between chunks (a crash, not bad
input, which the first pass has already excluded), the file is marked ``failed`` and ``twestival
replay`` or a re-import finishes it, because recording is idempotent: every row has a stable
external id and the ledger's unique (stream, external id) makes INSERT .. ON CONFLICT DO NOTHING
skip what is there. Every row is archived too (``import_row``), in the same chunk as the money
it moved, so the archive says which row became which entry.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from ..campaigns.models import Campaign, City
from .. import writelock
from ..database import Base, UTCDateTime, read_only, utcnow
from ..errors import DomainError, InvalidInput, NotFound
from ..money import Money
from .archive import InboundPayload, mark
from .filearchive import archive_file, archived_file

FORMATS = ("eventbrite", "camt053", "mt940", "ofx", "csv")
BANK_FORMATS = ("camt053", "mt940", "ofx")
MAX_ERRORS_SHOWN = 20
STAGE_BATCH = 5_000
# File rows recorded per committed chunk: a chunk's SQL holds SQLite's one write lock for
# 5-10 ms (measured on a 2-core VM), the longest a webhook waits behind an import.
CHUNK_ROWS = 500


class MalformedFile(InvalidInput):
    """The file cannot be read as the format it claims; nothing was recorded."""

    def __init__(self, message: str, errors: list[str] | None = None):
        self.errors = errors or []
        if self.errors:
            shown = "; ".join(self.errors[:MAX_ERRORS_SHOWN])
            more = len(self.errors) - MAX_ERRORS_SHOWN
            message = f"{message}: {shown}" + (f" (and {more} more)" if more > 0 else "")
        super().__init__(message)


class PartlyRecorded(Exception):
    """Recording failed after the file had passed its checks (not bad input: a crash, a lost
    database); committed chunks stay, and recording the file again completes it."""


class RowError(Exception):
    """One row cannot be read; collected with its line number, then the file is refused."""


# --- tables ----------------------------------------------------------------------------------

class ImportMapping(Base):
    """How to read one source's CSV: which column holds what. Saved per campaign by name."""
    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # "ticketing": every row is money in for the chosen city; "bank": rows are matched to
    # cities by bank reference, debits and payouts are reported, not counted.
    kind: Mapped[str] = mapped_column(Enum("ticketing", "bank", native_enum=False, length=16,
                                           name="import_mapping_kind"), default="ticketing")
    date_column: Mapped[str] = mapped_column(String(100))
    amount_column: Mapped[str] = mapped_column(String(100))
    currency_column: Mapped[str | None] = mapped_column(String(100))
    default_currency: Mapped[str | None] = mapped_column(String(3))
    reference_column: Mapped[str | None] = mapped_column(String(100))
    donor_column: Mapped[str | None] = mapped_column(String(100))
    external_id_column: Mapped[str | None] = mapped_column(String(100))
    fee_column: Mapped[str | None] = mapped_column(String(100))
    date_format: Mapped[str] = mapped_column(String(40), default="%Y-%m-%d")
    decimal_separator: Mapped[str] = mapped_column(String(1), default=".")
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRow(Base):
    """One row of an archived file, verbatim, and what became of it."""
    __tablename__ = "import_row"
    # A CAMT batch entry splits into several transfers that share the entry's number.
    __table_args__ = (UniqueConstraint("payload_id", "line", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payload_id: Mapped[int] = mapped_column(ForeignKey("inbound_payload.id"))
    line: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The entry a row became is the ledger entry with the same stream and external id.
    outcome: Mapped[str] = mapped_column(String(16))
    meta: Mapped[dict | None] = mapped_column(JSON)


# --- what parsers yield ---------------------------------------------------------------------

@dataclasses.dataclass(slots=True)
class Item:
    """One unit of money from a file (a ticket order, a bank entry), before any city is known."""
    line: int
    external_id: str
    amount: Money                      # signed: negative is money out (bank debits)
    occurred_at: dt.datetime
    raw: str                           # the row(s) verbatim, for the row archive
    reference: str | None = None       # text searched for a city's bank reference
    donor_name: str | None = None
    fee_minor: int | None = None
    refunded_minor: int = 0            # ticketing: part of the order refunded
    meta: dict | None = None
    # Set by the check pass (the stream's ``classify``): "entry" for money to record, else
    # a word for what the line is (a debit, a payout, ...), and the city it goes to.
    outcome: str = "entry"
    city_id: int | None = None


@dataclasses.dataclass
class Report:
    format: str
    filename: str | None = None
    payload_id: int | None = None
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    unmatched: int = 0
    confirmed: int = 0
    debits: int = 0
    returns: int = 0                   # bank credits giving back money of ours (not counted)
    interest: int = 0                  # bank credits of interest or dividends (not counted)
    payouts: int = 0
    skipped: int = 0
    reversals: int = 0                 # bank reversals linked to the credit they undo
    review: int = 0                    # bank lines left for a coordinator (not counted)
    refunds: int = 0
    errors: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    imported_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    reversed_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    returned_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    interest_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)

    def count(self, outcome: str, amount: Money | None = None) -> None:
        self.count_many(outcome, 1, amount.currency if amount else None,
                        amount.minor if amount else 0)

    def count_many(self, outcome: str, rows: int, currency: str | None = None,
                   minor: int = 0) -> None:
        """``rows`` rows with one outcome, ``minor`` the sum of their amounts in ``currency``."""
        self.rows += rows
        field = {"imported": "imported", "unassigned": "unmatched", "duplicate": "duplicates",
                 "confirmed": "confirmed", "debit": "debits", "returned": "returns",
                 "interest": "interest",
                 "payout": "payouts",
                 "skipped": "skipped", "reversal": "reversals", "review": "review"}[outcome]
        setattr(self, field, getattr(self, field) + rows)
        sums = {"imported": self.imported_by_currency, "unassigned": self.imported_by_currency,
                "reversal": self.reversed_by_currency, "returned": self.returned_by_currency,
                "interest": self.interest_by_currency}.get(outcome)
        if sums is not None and currency is not None:
            sums[currency] = sums.get(currency, 0) + minor

    def lines(self) -> list[str]:
        from ..money import format_money
        out = [f"rows: {self.rows}",
               f"imported: {self.imported}",
               f"unmatched (waiting in the unassigned queue): {self.unmatched}",
               f"duplicates skipped: {self.duplicates}",
               f"debits reported, not counted: {self.debits}",
               f"payouts (money already counted): {self.payouts}"]
        if self.returns:
            out.append("returned payments of ours (money back, not gifts), not counted: "
                       f"{self.returns}")
        if self.interest:
            out.append("interest and dividends paid by the bank (not gifts), not counted: "
                       f"{self.interest}")
        if self.confirmed:
            out.append(f"cash entries confirmed by the bank: {self.confirmed}")
        if self.skipped:
            out.append(f"skipped: {self.skipped}")
        if self.refunds:
            out.append(f"refunds recorded: {self.refunds}")
        if self.reversals:
            out.append(f"reversals of counted credits (linked to them): {self.reversals}")
        if self.review:
            out.append(f"left for review, not counted: {self.review}")
        for currency, minor in sorted(self.imported_by_currency.items()):
            out.append(f"new money: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.reversed_by_currency.items()):
            out.append(f"taken back by reversals: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.returned_by_currency.items()):
            out.append(f"returned to us, not counted: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.interest_by_currency.items()):
            out.append("interest and dividends, not counted: "
                       f"{format_money(Money(minor, currency))}")
        out.extend(f"note: {note}" for note in self.notes)
        out.extend(f"error: {error}" for error in self.errors)
        return out


@dataclasses.dataclass
class Context:
    """What a processor needs besides the items: where the money goes and who sent it."""
    session: Session
    campaign: Campaign
    city: City | None
    payload: InboundPayload
    report: Report
    created_by_id: int | None = None
    mapping: ImportMapping | None = None
    currency: str | None = None        # bank statements: for files that name no currency
    # Set by a parser whose ids must not repeat within a file: says why a repeat refuses it.
    repeat_error: Callable[[str], str] | None = None


Parser = Callable[[BinaryIO, "Context"], Iterator[Item]]


def collect(rows: Iterable[tuple[int, Callable[[], Item | None]]]) -> Iterator[Item]:
    """Run row builders, gathering every row's error before refusing the file."""
    errors: list[str] = []
    for line, build in rows:
        try:
            item = build()
        except RowError as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if item is not None and not errors:
            yield item
    if errors:
        raise MalformedFile("the file was refused, nothing was recorded", errors)


def archive_rows(ctx: Context, batch: list[tuple[Item, str]], *, with_meta: bool = True) -> None:
    """Archive a batch of rows with what became of them (replaying archives nothing twice)."""
    if not batch:
        return
    from ..ledger.bulk import fast_insert
    fast_insert(ctx.session, ImportRow.__table__, [
        {"payload_id": ctx.payload.id, "line": item.line, "external_id": item.external_id,
         "body": item.raw, "outcome": outcome, "meta": item.meta if with_meta else None}
        for item, outcome in batch], ["payload_id", "line", "external_id"])


# --- mappings --------------------------------------------------------------------------------

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAPPING_FIELDS = ("kind", "date_column", "amount_column", "currency_column", "default_currency",
                  "reference_column", "donor_column", "external_id_column", "fee_column",
                  "date_format", "decimal_separator", "delimiter")


def save_mapping(session: Session, campaign: Campaign, name: str, **fields) -> ImportMapping:
    """Create or replace the named mapping of a campaign."""
    from ..money import check_currency
    name = (name or "").strip().lower()
    if not NAME_RE.fullmatch(name):
        raise InvalidInput("mapping name must be lowercase letters, digits, - or _ (e.g. 'tito')")
    unknown = set(fields) - set(MAPPING_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown mapping field {sorted(unknown)[0]!r}")
    values = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in fields.items()}
    if not values.get("date_column") or not values.get("amount_column"):
        raise InvalidInput("a mapping needs at least the date and amount columns")
    if not values.get("currency_column") and not values.get("default_currency"):
        raise InvalidInput("a mapping needs a currency column or a default currency")
    if values.get("default_currency"):
        values["default_currency"] = check_currency(values["default_currency"])
    values["kind"] = values.get("kind") or "ticketing"
    if values["kind"] not in ("ticketing", "bank"):
        raise InvalidInput("mapping kind must be 'ticketing' or 'bank'")
    values["date_format"] = values.get("date_format") or "%Y-%m-%d"
    if "%" not in values["date_format"]:
        raise InvalidInput("date format uses strftime codes, e.g. %d/%m/%Y")
    values["decimal_separator"] = values.get("decimal_separator") or "."
    if values["decimal_separator"] not in (".", ","):
        raise InvalidInput("decimal separator must be '.' or ','")
    values["delimiter"] = values.get("delimiter") or ","
    if values["delimiter"] not in (",", ";", "\t", "|"):
        raise InvalidInput("delimiter must be one of , ; | or a tab")
    mapping = get_mapping(session, campaign, name, missing_ok=True)
    if mapping is None:
        mapping = ImportMapping(campaign_id=campaign.id, name=name)
        session.add(mapping)
    for key in MAPPING_FIELDS:
        setattr(mapping, key, values.get(key))
    session.flush()
    return mapping


def get_mapping(session: Session, campaign: Campaign, name: str, *,
                missing_ok: bool = False) -> ImportMapping | None:
    mapping = session.scalar(select(ImportMapping).where(
        ImportMapping.campaign_id == campaign.id, ImportMapping.name == (name or "").lower()))
    if mapping is None and not missing_ok:
        raise NotFound(f"no CSV mapping {name!r} in campaign {campaign.slug!r}; "
                       "save one first (`twestival mapping save`)")
    return mapping


def list_mappings(session: Session, campaign: Campaign) -> list[ImportMapping]:
    return list(session.scalars(select(ImportMapping).where(
        ImportMapping.campaign_id == campaign.id).order_by(ImportMapping.name)))


# --- running an import -----------------------------------------------------------------------

def stream_for(fmt: str, mapping: ImportMapping | None) -> str:
    if fmt in BANK_FORMATS or (fmt == "csv" and mapping is not None and mapping.kind == "bank"):
        return "bank"
    return "ticketing"


def check_request(session: Session, campaign: Campaign, fmt: str, mapping_name: str | None,
                  city: City | None) -> ImportMapping | None:
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if city is not None and city.campaign_id != campaign.id:
        raise NotFound("no such city in this campaign")
    if fmt == "csv":
        if not mapping_name:
            raise InvalidInput("a CSV import needs --mapping NAME (a saved column mapping)")
        return get_mapping(session, campaign, mapping_name)
    if mapping_name:
        raise InvalidInput("--mapping only applies to --format csv")
    return None


FALLBACK_CURRENCY_FORMATS = ("mt940", "ofx")


def check_fallback_currency(fmt: str, currency: str | None) -> str | None:
    """The ``--currency`` for statements that may name none (MT940 fragments, OFX without
    CURDEF); the parser uses it only where the file is silent, and refuses a contradiction."""
    from ..money import check_currency
    if not currency or not currency.strip():
        return None
    if fmt not in FALLBACK_CURRENCY_FORMATS:
        raise InvalidInput("a currency can only be given for MT940 and OFX statements, which "
                           "may name none; CAMT amounts carry their own and a CSV mapping has "
                           "its default currency")
    return check_currency(currency.strip().upper())


def import_file(session: Session, campaign: Campaign, source: bytes | BinaryIO, fmt: str, *,
                city: City | None = None, mapping_name: str | None = None,
                filename: str | None = None, created_by_id: int | None = None,
                progress: Callable[[int], None] | None = None,
                currency: str | None = None) -> Report:
    """Archive (and commit) the file, check all of it, then record it in committed chunks.

    ``source`` is the file's bytes or a seekable binary file (read in chunks). The session's
    transaction is committed first (callers have only looked things up). A DomainError
    (MalformedFile for unreadable files) means nothing was recorded; the archived file is then
    marked ``rejected`` with the reason. ``progress`` is told how many lines each pass has got
    through (each line is counted twice: once checked, once recorded).
    """
    mapping = check_request(session, campaign, fmt, mapping_name, city)
    currency = check_fallback_currency(fmt, currency)
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    stream = stream_for(fmt, mapping)
    meta = {"format": fmt, "filename": filename, "city": city.slug if city else None,
            "mapping": mapping.name if mapping else None, "created_by_id": created_by_id}
    if currency:
        meta["currency"] = currency
    campaign_id = campaign.id
    # The lookups above opened a transaction (on SQLite it holds the write lock): end it, so
    # the file is read, hashed and compressed (seconds for a large one) holding no lock but
    # for the moments its pieces are written.
    session.commit()
    payload_id = archive_file(session, stream, source, campaign_id=campaign_id, meta=meta)
    # Work from the file we hold (the archive row keeps no body: it is cheap to load).
    payload = session.get(InboundPayload, payload_id)
    try:
        report = process(session, payload, progress=progress, source=source)
    except Exception as exc:
        session.rollback()
        payload = session.get(InboundPayload, payload_id)
        if isinstance(exc, DomainError):
            mark(payload, "rejected", exc.message)
        else:
            mark(payload, "failed", f"{type(exc).__name__}: {exc}"[:2000])
        session.commit()
        raise
    return report


def process(session: Session, payload: InboundPayload, *,
            progress: Callable[[int], None] | None = None,
            source: BinaryIO | None = None) -> Report:
    """(Re-)process an archived file: check it all, then record it in committed chunks.

    Idempotent. Nothing is written before the whole file has passed; the chunks are committed
    here (so the caller's transaction is committed too), the last one with the file marked
    ``processed``.
    """
    from . import bank, direct, ticketing

    meta = payload.meta or {}
    fmt = meta.get("format")
    parsers: dict[str, Parser] = {
        "eventbrite": ticketing.parse_eventbrite, "camt053": bank.parse_camt053,
        "mt940": bank.parse_mt940, "ofx": bank.parse_ofx,
        "csv": ticketing.parse_mapped_csv,
    }
    if fmt not in parsers:
        raise InvalidInput(f"unknown format {fmt!r}")
    # The campaign, city and mapping do not change under an import: keep them across the
    # chunks' commits instead of reloading them (a reload would open the next chunk's write
    # transaction before its rows are ready).
    own = session() if isinstance(session, scoped_session) else session
    expire_on_commit, own.expire_on_commit = own.expire_on_commit, False
    try:
        session.commit()   # the first pass writes nothing: it holds no write lock
        with Staging() as staged:
            with read_only():
                ctx = _context(session, payload, meta)
                recorder = (bank.BankRecorder if payload.stream == "bank"
                            else ticketing.TicketRecorder)(ctx)
                body = archived_file(payload) if source is None else source
                staged.fill(parsers[fmt](body, ctx), recorder.classify, progress)
                staged.check_repeats(ctx)
                session.commit()
            _check_rates(ctx, staged)
            # A ticketing item is an order of one or more attendee rows: its chunks count rows.
            chunk = CHUNK_ROWS if payload.stream == "bank" else staged.items_for_rows(CHUNK_ROWS)
            try:
                if direct.available(session):
                    direct.record(ctx, recorder, staged, chunk, progress)
                else:
                    for batch in staged.chunks(session, chunk, progress):
                        recorder.record(batch)
                recorder.finish()
            except Exception as exc:
                raise PartlyRecorded(f"recording stopped at {type(exc).__name__}: {exc}; the "
                                     "chunks before it are kept, and `twestival replay` (or "
                                     "importing the file again) finishes it") from exc
            mark(payload, "processed")
            session.commit()
    finally:
        own.expire_on_commit = expire_on_commit
    return ctx.report


def _context(session: Session, payload: InboundPayload, meta: dict) -> Context:
    campaign = session.get(Campaign, payload.campaign_id)
    if campaign is None:
        raise NotFound("the archived file belongs to no campaign")
    city = None
    if meta.get("city"):
        city = session.scalar(select(City).where(City.campaign_id == campaign.id,
                                                 City.slug == meta["city"]))
        if city is None:
            raise NotFound(f"no city {meta['city']!r} in campaign {campaign.slug!r}")
    mapping = get_mapping(session, campaign, meta["mapping"]) if meta.get("mapping") else None
    report = Report(format=meta.get("format"), filename=meta.get("filename"),
                    payload_id=payload.id)
    return Context(session=session, campaign=campaign, city=city, payload=payload, report=report,
                   created_by_id=meta.get("created_by_id"), mapping=mapping,
                   currency=meta.get("currency"))


def _check_rates(ctx: Context, staged: "Staging") -> None:
    """Every amount must be convertible to the campaign's currency and to any city's it may
    go to, on its day: found now, not half-way through recording. Only a currency's first
    money copies its rates in (a write); the look-ups, one per currency, day and quote, are
    reads and hold no write lock while they run."""
    from ..ledger import fx
    with read_only():
        quotes = {ctx.campaign.currency}
        if ctx.city is not None:
            quotes.add(ctx.city.currency)
        elif ctx.payload.stream == "bank":   # a credit may match any city's reference
            quotes.update(ctx.session.scalars(select(City.currency).where(
                City.campaign_id == ctx.campaign.id)))
        missing = fx.without_rates(ctx.session, quotes | {c for c, _ in staged.currency_days})
        ctx.session.commit()
    if missing:
        for currency in missing:
            fx.ensure_rates(ctx.session, currency)
        ctx.session.commit()
    with read_only():
        for currency, day in staged.currency_days:
            for quote in quotes:
                fx.rate_for(ctx.session, currency, quote, day)
        _check_ceilings(ctx, staged)
        ctx.session.commit()


def _check_ceilings(ctx: Context, staged: "Staging") -> None:
    """No line may be larger than one gift can be (ledger.limits): the file is refused
    whole, naming the first such line, before anything is recorded."""
    from ..ledger import limits
    for currency, day, largest in staged.db.execute(
            "SELECT currency, day, max(abs(amount_minor)) FROM item GROUP BY currency, day"):
        ceiling = limits.gift_ceiling(ctx.session, currency, dt.date.fromisoformat(day))
        if largest > ceiling.minor:
            line, = staged.db.execute(
                "SELECT line FROM item WHERE currency = ? AND day = ? AND abs(amount_minor) > ? "
                "ORDER BY seq LIMIT 1", (currency, day, ceiling.minor)).fetchone()
            raise MalformedFile(f"line {line}: one gift can be at most "
                                f"{ceiling.major_str()} {currency}; nothing was imported")


class Staging:
    """The checked rows of one file, in a private temporary SQLite file (deleted on exit): the
    first pass writes them, the second reads them back in order (or, on SQLite, records them
    straight from this file: ``direct``), so neither holds the file's rows in memory."""

    COLUMNS = ("line", "external_id", "amount_minor", "currency", "occurred_at", "raw",
               "reference", "donor_name", "fee_minor", "refunded_minor", "meta", "outcome",
               "city_id", "day", "occurred_utc")

    def __enter__(self) -> "Staging":
        self.dir = tempfile.mkdtemp(prefix="twestival-import-")
        self.path = os.path.join(self.dir, "staging.db")
        self.db = sqlite3.connect(self.path)
        # Scratch data: a crash loses nothing that is not in the archived file.
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(f"CREATE TABLE item (seq INTEGER PRIMARY KEY, {', '.join(self.COLUMNS)})")
        self.currency_days: set[tuple[str, dt.date]] = set()
        self.count = 0
        return self

    def __exit__(self, *exc) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def fill(self, items: Iterator[Item], classify: Callable[[Item], tuple[str, int | None]],
             progress: Callable[[int], None] | None) -> None:
        """Parse the whole file into the staging table (MalformedFile on any bad row), each
        row with the stream's word for it and its city (``classify``)."""
        insert = (f"INSERT INTO item ({', '.join(self.COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(self.COLUMNS))})")
        batch: list[tuple] = []
        days = self.currency_days
        times: dict[dt.datetime, tuple] = {}   # times repeat (an order's rows, a day's lines)
        reported = 0
        for item in items:
            occurred = item.occurred_at
            texts = times.get(occurred)
            if texts is None:
                if len(times) > 10_000:
                    times.clear()
                day = occurred.date()   # the local day: the day of the rates, as ``record``
                # The UTC text is how SQLAlchemy stores a UTCDateTime on SQLite (``direct``).
                texts = times[occurred] = (
                    occurred.isoformat(), day.isoformat(), day,
                    occurred.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
            iso, day_text, day, utc = texts
            days.add((item.amount.currency, day))
            outcome, city_id = classify(item)
            batch.append((item.line, item.external_id, item.amount.minor, item.amount.currency,
                          iso, item.raw, item.reference, item.donor_name,
                          item.fee_minor, item.refunded_minor,
                          None if item.meta is None else json.dumps(item.meta), outcome,
                          city_id, day_text, utc))
            if len(batch) >= STAGE_BATCH:
                self.db.executemany(insert, batch)
                self.count += len(batch)
                batch = []
                if progress and item.line > reported:
                    progress(item.line - reported)
                    reported = item.line
        if batch:
            self.db.executemany(insert, batch)
            self.count += len(batch)
        self.db.commit()
        self.lines = max(reported, self.db.execute("SELECT max(line) FROM item").fetchone()[0]
                         or 0)
        if progress and self.lines > reported:
            progress(self.lines - reported)

    def items_for_rows(self, rows: int) -> int:
        """How many staged items cover about ``rows`` lines of the file."""
        if self.count == 0 or self.lines <= self.count:
            return rows
        return max(1, rows * self.count // self.lines)

    def check_repeats(self, ctx: Context) -> None:
        """Where a parser's ids must be unique in a file, a repeat refuses it (the ids are
        checked by an index here rather than a set of every id in memory)."""
        if ctx.repeat_error is None or self.count == 0:
            return
        self.db.execute("CREATE INDEX IF NOT EXISTS item_external_id ON item (external_id)")
        repeats = self.db.execute(
            "SELECT line, external_id FROM item WHERE seq NOT IN "
            "(SELECT min(seq) FROM item GROUP BY external_id) ORDER BY line").fetchall()
        if repeats:
            raise MalformedFile("the file was refused, nothing was recorded",
                                [f"line {line}: {ctx.repeat_error(external_id)}"
                                 for line, external_id in repeats])

    def ranges(self, session: Session, size: int,
               progress: Callable[[int], None] | None) -> Iterator[tuple[int, int]]:
        """The staged rows' positions (first, last) in file order, ``size`` at a time; asking
        for the next range commits the one before (which the caller has recorded by then).
        The boards are told once, after the last chunk: the changes each chunk notes are held
        back till then."""
        from ..ledger.totals import CHANGES_KEY
        reported = 0
        changed: set = set()
        turns = writelock.Turns.of(session.get_bind())
        for first in range(1, self.count + 1, size):
            last = min(first + size - 1, self.count)
            yield first, last
            changed |= session.info.pop(CHANGES_KEY, set())
            session.commit()
            turns.after_commit()   # a webhook waiting for the lock gets it before the next chunk
            if progress:
                line = max(self.db.execute("SELECT line FROM item WHERE seq = ?",
                                           (last,)).fetchone()[0], reported)
                progress(line - reported)
                reported = line
        session.info.setdefault(CHANGES_KEY, set()).update(changed)
        if progress and self.lines > reported:
            progress(self.lines - reported)

    def items(self, first: int, last: int, outcomes: Iterable[str] | None = None) -> list[Item]:
        """The staged rows from ``first`` to ``last`` (only those with one of ``outcomes``)."""
        sql = f"SELECT {', '.join(self.COLUMNS[:13])} FROM item WHERE seq BETWEEN ? AND ?"
        params: list = [first, last]
        if outcomes is not None:
            outcomes = list(outcomes)
            sql += f" AND outcome IN ({', '.join('?' * len(outcomes))})"
            params += outcomes
        return [Item(line=line, external_id=external_id, amount=Money(minor, currency),
                     occurred_at=dt.datetime.fromisoformat(occurred), raw=raw,
                     reference=reference, donor_name=donor, fee_minor=fee,
                     refunded_minor=refunded, meta=None if meta is None else json.loads(meta),
                     outcome=outcome, city_id=city_id)
                for (line, external_id, minor, currency, occurred, raw, reference, donor,
                     fee, refunded, meta, outcome, city_id)
                in self.db.execute(sql + " ORDER BY seq", params)]

    def chunks(self, session: Session, size: int,
               progress: Callable[[int], None] | None) -> Iterator[list[Item]]:
        """The staged items in file order, ``size`` at a time (committed as ``ranges``)."""
        for first, last in self.ranges(session, size, progress):
            yield self.items(first, last)
