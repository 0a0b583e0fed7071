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

import datetime as dt
import io
from collections.abc import Callable
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from ...campaigns.models import Campaign, City
from ...errors import DomainError, InvalidInput, NotFound
from ...languages import N_
from ...ledger import fx, limits
from ...money import check_currency
from ...storage.database import read_only
from .. import bank, ticketing
from ..inbox.archive import InboundPayload, mark
from ..inbox.files import archive_file, archived_file
from . import direct, history, mapped_csv
from .mappings import ImportMapping, get_mapping
from .report import Report
from .rows import Context, MalformedFile, Parser, PartlyRecorded
from .staging import Staging

FORMATS = ("eventbrite", "camt053", "mt940", "ofx", "csv")
BANK_FORMATS = ("camt053", "mt940", "ofx")
# The streams an imported file is recorded under (its archived payload's stream).
STREAMS = ("ticketing", "bank")
# File rows recorded per committed chunk: a chunk's SQL holds SQLite's one write lock for
# 5-10 ms (measured on a 2-core VM), the longest a webhook waits behind an import.
CHUNK_ROWS = 500
PARSERS: dict[str, Parser] = {
    "eventbrite": ticketing.parse_eventbrite, "camt053": bank.parse_camt053,
    "mt940": bank.parse_mt940, "ofx": bank.parse_ofx, "csv": mapped_csv.parse_mapped_csv,
}


def stream_for(fmt: str, mapping: ImportMapping | None) -> str:
    if fmt in BANK_FORMATS or (fmt == "csv" and mapping is not None and mapping.kind == "bank"):
        return "bank"
    return "ticketing"


def check_request(session: Session, campaign: Campaign, fmt: str, mapping_name: str | None,
                  city: City | None) -> ImportMapping | None:
    if fmt not in FORMATS:
        raise InvalidInput(N_("unknown format %(format)r; use one of %(formats)s"),
                           format=fmt, formats=", ".join(FORMATS))
    if city is not None and city.campaign_id != campaign.id:
        raise NotFound(N_("no such city in this campaign"))
    if fmt == "csv":
        if not mapping_name:
            raise InvalidInput(N_("a CSV import needs --mapping NAME (a saved column mapping)"))
        return get_mapping(session, campaign, mapping_name)
    if mapping_name:
        raise InvalidInput(N_("--mapping only applies to --format csv"))
    return None


FALLBACK_CURRENCY_FORMATS = ("mt940", "ofx")


def check_fallback_currency(fmt: str, currency: str | None) -> str | None:
    """The ``--currency`` for statements that may name none (MT940 fragments, OFX without
    CURDEF); the parser uses it only where the file is silent, and refuses a contradiction."""
    if not currency or not currency.strip():
        return None
    if fmt not in FALLBACK_CURRENCY_FORMATS:
        raise InvalidInput(N_("a currency can only be given for MT940 and OFX statements, which "
                              "may name none; CAMT amounts carry their own and a CSV mapping "
                              "has its default currency"))
    return check_currency(currency.strip().upper())


def import_file(session: Session, campaign: Campaign, source: bytes | BinaryIO, fmt: str, *,
                city: City | None = None, mapping_name: str | None = None,
                filename: str | None = None, created_by_id: int | None = None,
                progress: Callable[[int], None] | None = None,
                currency: str | None = None, via: str = "web",
                actor: str | None = None) -> Report:
    """Archive (and commit) the file, check all of it, then record it in committed chunks.

    ``source`` is the file's bytes or a seekable binary file (read in chunks). The session's
    transaction is committed first (callers have only looked things up). A DomainError
    (MalformedFile for unreadable files) means nothing was recorded; the archived file is then
    marked ``rejected`` with the reason. ``progress`` is told how many lines each pass has got
    through (each line is counted twice: once checked, once recorded). ``via`` and ``actor``
    say who ran it for the imports history (``created_by_id`` when it is an account).
    """
    mapping = check_request(session, campaign, fmt, mapping_name, city)
    currency = check_fallback_currency(fmt, currency)
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    stream = stream_for(fmt, mapping)
    meta = {"format": fmt, "filename": filename, "city": city.slug if city else None,
            "mapping": mapping.name if mapping else None, "created_by_id": created_by_id,
            "via": via}
    if actor:
        meta["actor"] = actor
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
        history.record(session, payload, status=payload.status,
                       error=exc if isinstance(exc, DomainError) else payload.error)
        session.commit()
        raise
    return report


def process(session: Session, payload: InboundPayload, *,
            progress: Callable[[int], None] | None = None,
            source: BinaryIO | None = None, via: str | None = None) -> Report:
    """(Re-)process an archived file: check it all, then record it in committed chunks.

    Idempotent. Nothing is written before the whole file has passed; the chunks are committed
    here (so the caller's transaction is committed too), the last one with the file marked
    ``processed``.
    """

    meta = payload.meta or {}
    fmt = meta.get("format")
    if fmt not in PARSERS:
        raise InvalidInput(N_("unknown format %(format)r"), format=fmt)
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
                staged.fill(PARSERS[fmt](body, ctx), recorder.classify, progress)
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
            history.record(session, payload, status="processed", report=ctx.report, via=via)
            session.commit()
    finally:
        own.expire_on_commit = expire_on_commit
    return ctx.report


def _context(session: Session, payload: InboundPayload, meta: dict) -> Context:
    campaign = session.get(Campaign, payload.campaign_id)
    if campaign is None:
        raise NotFound(N_("the archived file belongs to no campaign"))
    city = None
    if meta.get("city"):
        city = session.scalar(select(City).where(City.campaign_id == campaign.id,
                                                 City.slug == meta["city"]))
        if city is None:
            raise NotFound(N_("no city %(city)r in campaign %(campaign)r"), city=meta["city"],
                               campaign=campaign.slug)
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
        fixed = fx.fixed_day(ctx.session, ctx.campaign.id)
        for currency, day in staged.currency_days:
            for quote in quotes:
                fx.rate_for(ctx.session, currency, quote, fixed or day)
        _check_ceilings(ctx, staged)
        ctx.session.commit()


def _check_ceilings(ctx: Context, staged: Staging) -> None:
    """No line may be larger than one gift can be (ledger.limits): the file is refused
    whole, naming the first such line, before anything is recorded."""
    for currency, day, largest in staged.db.execute(
            "SELECT currency, day, max(abs(amount_minor)) FROM item GROUP BY currency, day"):
        ceiling = limits.gift_ceiling(ctx.session, currency, dt.date.fromisoformat(day))
        if largest > ceiling.minor:
            line, = staged.db.execute(
                "SELECT line FROM item WHERE currency = ? AND day = ? AND abs(amount_minor) > ? "
                "ORDER BY seq LIMIT 1", (currency, day, ceiling.minor)).fetchone()
            raise MalformedFile(N_("line %(line)s: one gift can be at most %(amount)s "
                                   "%(currency)s; nothing was imported"), line=line,
                                amount=ceiling.major_str(), currency=currency)


def process_file(session: Session, payload: InboundPayload) -> None:
    """The inbox's processor for an archived file (``replay``)."""
    process(session, payload, via="replay")
