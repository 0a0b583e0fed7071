"""The imports history: one row per run of an imported file, with who ran it, the file's name
and hash and its report, so a desk can reopen any past import.

A row is written in the transaction that marks the archived file processed (or rejected), so
the history never shows an import whose money is not there, nor misses one whose money is.
"""
from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...campaigns.models import Campaign, City
from ...errors import DomainError, NotFound
from ...languages import N_
from ...phrases import Phrase
from ...storage.database import Base, UTCDateTime, utcnow
from ..inbox.archive import InboundPayload
from .report import Report
from .rows import MalformedFile

# How the import was started: the money desk in a browser, ``twestival import``, or a replay
# of the archived file (``twestival replay``).
VIA = ("web", "cli", "replay")
PAGE = 200


class ImportRecord(Base):
    __tablename__ = "import_record"
    __table_args__ = (Index("ix_import_record_campaign_id_id", "campaign_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"), index=True)
    payload_id: Mapped[int] = mapped_column(ForeignKey("inbound_payload.id"), index=True)
    stream: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))      # processed, rejected or failed
    via: Mapped[str] = mapped_column(String(16))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # Who, as a person reads it: the account's email then, or the command line's OS user.
    actor: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[dict | None] = mapped_column(JSON)
    # Why nothing was imported: a refusal's JSON (``MalformedFile.stored``: its msgid, values
    # and the rows' errors, to say it in each reader's language), or plain text (a crash, or
    # a refusal recorded before refusals were kept that way).
    error: Mapped[str | None] = mapped_column(Text)

    def as_report(self) -> Report:
        return Report.load(self.report) if self.report else Report(
            format=self.format, filename=self.filename, payload_id=self.payload_id)

    def refusal(self) -> MalformedFile | Phrase | None:
        """Why nothing was imported, to be said with ``translated(gettext)``."""
        if not self.error:
            return None
        if self.error.startswith("{"):
            try:
                return MalformedFile.load(json.loads(self.error))
            except (ValueError, KeyError, TypeError):
                pass
        return Phrase.load(self.error)


def _actor(session: Session, meta: dict, via: str) -> str:
    from ...accounts.models import User
    email = session.scalar(select(User.email).where(User.id == meta["created_by_id"])) \
        if meta.get("created_by_id") else None
    return email or meta.get("actor") or via


def record(session: Session, payload: InboundPayload, *, status: str,
           report: Report | None = None, error: str | DomainError | None = None,
           via: str | None = None) -> ImportRecord:
    """Add the history row of one run of ``payload`` to the caller's transaction; ``error``
    is a refusal (kept to be said in each reader's language) or a crash's text."""
    if isinstance(error, DomainError):
        error = json.dumps(_kept(error), default=str)
    meta = payload.meta or {}
    via = via or meta.get("via") or "web"
    city_id = None
    if meta.get("city"):
        city_id = session.scalar(select(City.id).where(City.campaign_id == payload.campaign_id,
                                                       City.slug == meta["city"]))
    row = ImportRecord(
        campaign_id=payload.campaign_id, city_id=city_id, payload_id=payload.id,
        stream=payload.stream, format=meta.get("format") or "?",
        filename=(meta.get("filename") or None) and meta["filename"][:300],
        sha256=payload.sha256, status=status, via=via,
        by_user_id=meta.get("created_by_id") if via != "replay" else None,
        actor=_actor(session, meta, via)[:300], at=utcnow(),
        rows=report.rows if report else 0, imported=report.imported if report else 0,
        duplicates=report.duplicates if report else 0,
        unmatched=report.unmatched if report else 0,
        report=report.stored() if report else None,
        error=error)
    session.add(row)
    session.flush()
    return row


def _kept(error: DomainError) -> dict:
    """A refusal as the history keeps it (any domain error is kept the way a file's is)."""
    if isinstance(error, MalformedFile):
        return error.stored()
    return MalformedFile(error.template, **error.values).stored()


def listing(session: Session, campaign: Campaign, city: City | None = None,
            limit: int = PAGE) -> list[tuple[ImportRecord, str | None]]:
    """The newest imports of a campaign (or of one city), each with its city's name."""
    query = (select(ImportRecord, City.name).outerjoin(City, City.id == ImportRecord.city_id)
             .where(ImportRecord.campaign_id == campaign.id))
    if city is not None:
        query = query.where(ImportRecord.city_id == city.id)
    return [tuple(r) for r in session.execute(query.order_by(ImportRecord.id.desc()).limit(limit))]


def get(session: Session, campaign: Campaign, record_id: int,
        city: City | None = None) -> ImportRecord:
    """One import of the campaign; with ``city``, only one of that city's (an organiser's)."""
    found = session.get(ImportRecord, record_id)
    if found is None or found.campaign_id != campaign.id or (
            city is not None and found.city_id != city.id):
        raise NotFound(N_("no such import"))
    return found
