"""Webhook deliveries taken in groups: archive them all, then process them all.

On a busy night deliveries arrive faster than one transaction each can take them: every
transaction pays SQLAlchemy's and the database's fixed costs, and on SQLite holds the one write
lock. A group of deliveries that arrived together is archived with one statement (committed
by the caller before anything is processed, as for a single delivery), then processed in one
transaction: the stream's batch path (``FAST``) first takes what it can prove is plain (on
Stripe: a new paid Checkout Session, seen nowhere before) with set-based statements, then every
other delivery goes through the stream's own processor, in arrival order, in a savepoint of its
own, exactly as it would alone, so one bad delivery cannot undo the others. Processing is
idempotent and independent of arrival order, so taking the plain ones first changes no result.
No Flask here; the caller commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session

from ..database import as_loaded, utcnow
from ..errors import DomainError
from .archive import InboundPayload, clean_headers, mark
from .registry import PROCESSORS


@dataclasses.dataclass(slots=True)
class Delivery:
    """One verified webhook body, and what was told about it before it was archived."""
    stream: str
    body: bytes
    headers: dict[str, str]
    content_type: str | None
    external_id: str
    event: dict
    hint: Callable[[Session, dict], int | None]   # the campaign, when it can be told early
    payload_id: int | None = None
    campaign_id: int | None = None
    received_at: dt.datetime | None = None
    sha256: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status: str               # the archived payload's status after processing
    error: DomainError | None = None


# A stream's batch path: takes the deliveries it can prove plain, records them, and returns
# the statuses of those it took by index; the rest are processed one by one.
BatchPath = Callable[[Session, Sequence[Delivery]], dict[int, str]]
FAST: dict[str, BatchPath] = {}

_payload = InboundPayload.__table__
_ARCHIVE = insert(_payload).returning(_payload.c.id, sort_by_parameter_order=True)
_MARK = update(_payload).where(_payload.c.id == bindparam("p_id")).values(
    status=bindparam("p_status"), error=bindparam("p_error"),
    processed_at=bindparam("p_at", type_=_payload.c.processed_at.type))


def delivery(stream: str, body: bytes, headers, content_type: str | None, external_id: str,
             event: dict, hint: Callable[[Session, dict], int | None]) -> Delivery:
    return Delivery(stream, body, clean_headers(headers or {}), content_type, external_id, event,
                    hint)


def archive_many(session: Session, deliveries: Sequence[Delivery]) -> None:
    """Archive every body verbatim, with one INSERT; each delivery learns its payload id."""
    now = utcnow()
    for item in deliveries:
        item.campaign_id, item.received_at = item.hint(session, item.event), now
        item.sha256 = hashlib.sha256(item.body).hexdigest()
    rows = [dict(stream=item.stream, body=item.body, sha256=item.sha256,
                 headers=item.headers, content_type=item.content_type,
                 external_id=item.external_id, campaign_id=item.campaign_id, meta=None,
                 received_at=now, status="received", error=None, processed_at=None)
            for item in deliveries]
    for item, payload_id in zip(deliveries, session.execute(_ARCHIVE, rows).scalars()):
        item.payload_id = payload_id


def process_many(session: Session, deliveries: Sequence[Delivery]) -> list[Outcome]:
    """Process archived deliveries; a DomainError rejects its own delivery only."""
    outcomes: dict[int, Outcome] = {}
    by_stream: dict[str, list[int]] = {}
    for index, item in enumerate(deliveries):
        by_stream.setdefault(item.stream, []).append(index)
    for stream, indexes in by_stream.items():
        fast = FAST.get(stream)
        if fast is None:
            continue
        group = [deliveries[i] for i in indexes]
        try:
            with session.begin_nested():
                taken = fast(session, group)
        except DomainError:
            continue  # one by one, below, where each gets its own answer
        if taken:
            now = utcnow()
            session.execute(_MARK, [{"p_id": group[i].payload_id, "p_status": status,
                                     "p_error": None, "p_at": now} for i, status in taken.items()])
            outcomes.update((indexes[i], Outcome(status)) for i, status in taken.items())
    for index, item in enumerate(deliveries):
        if index not in outcomes:
            outcomes[index] = _one(session, item)
    return [outcomes[i] for i in range(len(deliveries))]


def _one(session: Session, item: Delivery) -> Outcome:
    payload = as_loaded(session, InboundPayload, dict(
        id=item.payload_id, stream=item.stream, campaign_id=item.campaign_id,
        external_id=item.external_id, content_type=item.content_type, headers=item.headers,
        body=item.body, sha256=item.sha256, received_at=item.received_at,
        status="received", error=None, processed_at=None, meta=None))
    try:
        with session.begin_nested():
            PROCESSORS[item.stream](session, payload)
            status = payload.status
    except DomainError as exc:
        mark(payload, "rejected", exc.message)
        return Outcome("rejected", exc)
    return Outcome(status)


def mark_failed(session: Session, deliveries: Sequence[Delivery], reason: str) -> None:
    """Archived deliveries whose processing could not run (the database was busy)."""
    now = utcnow()
    archived = [item for item in deliveries if item.payload_id is not None]
    if archived:
        session.execute(_MARK, [{"p_id": item.payload_id, "p_status": "failed", "p_error": reason,
                                 "p_at": now} for item in archived])
