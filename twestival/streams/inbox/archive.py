"""The inbound archive: every webhook body, API call and imported row, byte for byte."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...storage.database import Base, UTCDateTime, as_loaded, utcnow

# Secrets are not ours to keep: these headers are replaced before the payload is stored.
REDACTED_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-csrftoken"}
# meta key: the slug of a campaign the payload names but that was unknown when it came
CLAIMED_CAMPAIGN = "claimed_campaign"
# status of a payload whose bytes are still being stored (an imported file, piece by piece,
# ``filearchive``); one left so never became whole and is never processed.
RECEIVING = "receiving"
# status of a payload whose body was erased with its donor (giving/donors.py): never replayed.
ERASED = "erased"


class InboundPayload(Base):
    __tablename__ = "inbound_payload"
    __table_args__ = (Index("ix_inbound_payload_stream_received", "stream", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"), index=True)
    # The provider's id for what was delivered (event id, file hash, ...), when it has one.
    external_id: Mapped[str | None] = mapped_column(String(200), index=True)
    content_type: Mapped[str | None] = mapped_column(String(200))
    headers: Mapped[dict | None] = mapped_column(JSON)
    # Empty for an imported file: its bytes are in ``inbound_file_piece`` (``filearchive``).
    body: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Processing bookkeeping (the archive is not the ledger; its status may change).
    status: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    meta: Mapped[dict | None] = mapped_column(JSON)


def clean_headers(headers) -> dict[str, str]:
    return {k: ("[redacted]" if k.lower() in REDACTED_HEADERS else v) for k, v in headers.items()}


# Everything but the body comes back (we hold it already).
_INSERT = insert(InboundPayload.__table__).returning(
    *(c for c in InboundPayload.__table__.columns if c.key != "body"))


def archive(session: Session, stream: str, body: bytes, *, headers=None, content_type=None,
            external_id: str | None = None, campaign_id: int | None = None,
            meta: dict | None = None) -> InboundPayload:
    session.flush()  # what the caller added so far goes first, as with an ORM insert
    row = session.execute(_INSERT, dict(
        stream=stream, body=body, sha256=hashlib.sha256(body).hexdigest(),
        headers=clean_headers(headers or {}), content_type=content_type,
        external_id=external_id, campaign_id=campaign_id, meta=meta, received_at=utcnow(),
        status="received", error=None, processed_at=None)).one()
    return as_loaded(session, InboundPayload, {**row._mapping, "body": body})


def claim_campaign(payload: InboundPayload, slug: object) -> None:
    """Note the campaign a payload names but that does not exist (yet): ``replay CAMPAIGN``
    picks it up once the campaign is created, instead of it lying unreachable."""
    if isinstance(slug, str) and slug:
        payload.meta = {**(payload.meta or {}), CLAIMED_CAMPAIGN: slug[:100]}


def mark(payload: InboundPayload, status: str, error: str | None = None) -> None:
    payload.status = status
    payload.error = error
    payload.processed_at = utcnow()
