"""Imported files (ticket-sale exports, bank statements): archive, parse, record, report.

The file is archived verbatim and committed first (so a failure never loses it); then it is
parsed and recorded in ONE transaction: any malformed row refuses the whole file, rolls back,
and leaves the ledger untouched (the archived file is kept, marked ``rejected``). Every row is
archived too (``import_row``), in the same transaction as the money it moved, so the archive
says which row became which entry. Re-importing a file, or an overlapping one, adds nothing:
each row has a stable external id and ``ledger.record`` is idempotent on it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from sqlalchemy import (JSON, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, func,
                        select, update)
from sqlalchemy.orm import Mapped, Session, defer, mapped_column

from ..campaigns.models import Campaign, City
from ..database import Base, UTCDateTime, utcnow
from ..errors import DomainError, InvalidInput, NotFound
from ..money import Money
from .archive import InboundPayload, archive, mark

FORMATS = ("eventbrite", "camt053", "mt940", "ofx", "csv")
BANK_FORMATS = ("camt053", "mt940", "ofx")
MAX_ERRORS_SHOWN = 20
BATCH = 5_000


class MalformedFile(InvalidInput):
    """The file cannot be read as the format it claims; nothing was recorded."""

    def __init__(self, message: str, errors: list[str] | None = None):
        self.errors = errors or []
        if self.errors:
            shown = "; ".join(self.errors[:MAX_ERRORS_SHOWN])
            more = len(self.errors) - MAX_ERRORS_SHOWN
            message = f"{message}: {shown}" + (f" (and {more} more)" if more > 0 else "")
        super().__init__(message)


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
    payouts: int = 0
    skipped: int = 0
    reversals: int = 0                 # bank reversals linked to the credit they undo
    review: int = 0                    # bank lines left for a coordinator (not counted)
    errors: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    imported_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    reversed_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)

    def count(self, outcome: str, amount: Money | None = None) -> None:
        self.rows += 1
        field = {"imported": "imported", "unassigned": "unmatched", "duplicate": "duplicates",
                 "confirmed": "confirmed", "debit": "debits", "payout": "payouts",
                 "skipped": "skipped", "reversal": "reversals", "review": "review"}[outcome]
        setattr(self, field, getattr(self, field) + 1)
        if outcome in ("imported", "unassigned") and amount is not None:
            self.imported_by_currency[amount.currency] = (
                self.imported_by_currency.get(amount.currency, 0) + amount.minor)
        if outcome == "reversal" and amount is not None:
            self.reversed_by_currency[amount.currency] = (
                self.reversed_by_currency.get(amount.currency, 0) + amount.minor)

    def lines(self) -> list[str]:
        from ..money import format_money
        out = [f"rows: {self.rows}",
               f"imported: {self.imported}",
               f"unmatched (waiting in the unassigned queue): {self.unmatched}",
               f"duplicates skipped: {self.duplicates}",
               f"debits reported, not counted: {self.debits}",
               f"payouts (money already counted): {self.payouts}"]
        if self.confirmed:
            out.append(f"cash entries confirmed by the bank: {self.confirmed}")
        if self.skipped:
            out.append(f"skipped: {self.skipped}")
        if self.reversals:
            out.append(f"reversals of counted credits (linked to them): {self.reversals}")
        if self.review:
            out.append(f"left for review, not counted: {self.review}")
        for currency, minor in sorted(self.imported_by_currency.items()):
            out.append(f"new money: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.reversed_by_currency.items()):
            out.append(f"taken back by reversals: {format_money(Money(minor, currency))}")
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


CHUNK = 1 << 20


def archive_file(session: Session, stream: str, source: BinaryIO, *, campaign_id: int,
                 meta: dict) -> InboundPayload:
    """``archive`` for a file that may be large: hashed in chunks and, on SQLite, written into
    the row through the blob API, so a 100 MB file is never held in memory two or three times
    over (once by us, once by the driver, once by the statement)."""
    digest, size = hashlib.sha256(), 0
    source.seek(0)
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    if size == 0:
        raise InvalidInput("the file is empty")
    external_id = f"sha256:{digest.hexdigest()}"
    if session.get_bind().dialect.name != "sqlite":
        payload = archive(session, stream, source.read(), external_id=external_id,
                          campaign_id=campaign_id, meta=meta)
        source.seek(0)   # the parser reads the same handle next
        return payload
    payload = InboundPayload(stream=stream, body=b"", sha256=digest.hexdigest(), headers={},
                             external_id=external_id, campaign_id=campaign_id, meta=meta)
    session.add(payload)
    session.flush()
    session.execute(update(InboundPayload).where(InboundPayload.id == payload.id)
                    .values(body=func.zeroblob(size)))
    raw = session.connection().connection.dbapi_connection
    with raw.blobopen("inbound_payload", "body", payload.id) as blob:
        while chunk := source.read(CHUNK):
            blob.write(chunk)
    source.seek(0)
    return payload


def import_file(session: Session, campaign: Campaign, source: bytes | BinaryIO, fmt: str, *,
                city: City | None = None, mapping_name: str | None = None,
                filename: str | None = None, created_by_id: int | None = None,
                progress: Callable[[int], None] | None = None,
                currency: str | None = None) -> Report:
    """Archive (and commit) the file, then parse and record it in one transaction.

    ``source`` is the file's bytes or a seekable binary file (read in chunks). Raises a
    DomainError (MalformedFile for unreadable files) after rolling back; the archived file is
    then marked ``rejected`` with the reason and committed.
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
    payload = archive_file(session, stream, source, campaign_id=campaign.id, meta=meta)
    payload_id = payload.id
    session.commit()
    # Work from the file we hold; the archive row is reloaded without its body.
    session.expunge(payload)
    payload = session.get(InboundPayload, payload_id, options=[defer(InboundPayload.body)])
    try:
        report = process(session, payload, progress=progress, source=source)
    except DomainError as exc:
        session.rollback()
        mark(payload, "rejected", exc.message)
        session.commit()
        raise
    except Exception as exc:
        session.rollback()
        mark(payload, "failed", f"{type(exc).__name__}: {exc}"[:2000])
        session.commit()
        raise
    session.commit()
    return report


def process(session: Session, payload: InboundPayload, *,
            progress: Callable[[int], None] | None = None,
            source: BinaryIO | None = None) -> Report:
    """(Re-)process an archived file. Idempotent; flushes, the caller commits."""
    from .bank import process_bank_items
    from .ticketing import process_ticket_items
    from . import bank, ticketing

    meta = payload.meta or {}
    fmt = meta.get("format")
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
    report = Report(format=fmt, filename=meta.get("filename"), payload_id=payload.id)
    ctx = Context(session=session, campaign=campaign, city=city, payload=payload, report=report,
                  created_by_id=meta.get("created_by_id"), mapping=mapping,
                  currency=meta.get("currency"))
    parsers: dict[str, Parser] = {
        "eventbrite": ticketing.parse_eventbrite, "camt053": bank.parse_camt053,
        "mt940": bank.parse_mt940, "ofx": bank.parse_ofx,
        "csv": ticketing.parse_mapped_csv,
    }
    if fmt not in parsers:
        raise InvalidInput(f"unknown format {fmt!r}")
    items = parsers[fmt](io.BytesIO(payload.body) if source is None else source, ctx)
    handler = process_bank_items if payload.stream == "bank" else process_ticket_items
    handler(ctx, batched(items, BATCH, progress))
    mark(payload, "processed")
    return report


def batched(items: Iterator[Item], size: int,
            progress: Callable[[int], None] | None) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        yield batch
        if progress:
            progress(len(batch))
