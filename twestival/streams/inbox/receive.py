"""The inbox: the one path by which anything from outside reaches the ledger.

Every channel — webhooks, the JSON API, cash counts, the donate flow, imported files and
replay — goes through here: the payload is archived verbatim and committed *before* it is
processed, then processed and committed; a DomainError marks the archived payload rejected
(committed too) and reaches the caller. After-commit side effects (live pushes, mail,
metrics) follow each commit (``storage.aftercommit``). No Flask here.

``receive`` takes one payload. ``GroupInbox`` takes webhook deliveries in groups: on a busy
night they arrive faster than one transaction each can take them (every transaction pays
SQLAlchemy's and the database's fixed costs, and on SQLite holds the one write lock). A group
is archived with one statement and committed, then processed in one transaction: the
stream's batch path first takes what it can prove is plain (on Stripe: a new paid Checkout
Session, seen nowhere before) with set-based statements, then every other delivery goes
through the stream's own processor, in arrival order, in a savepoint of its own, so one bad
delivery cannot undo the others. Processing is idempotent and independent of arrival order,
so taking the plain ones first changes no result. A database that is busy answers ``BUSY``:
the provider retries, and the retry counts once.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ...errors import DomainError
from ...storage.database import as_loaded, commit_keeping_loaded, utcnow
from ...storage.groupcommit import GroupCommit
from . import registry
from .archive import InboundPayload, archive, mark
from .delivery import Delivery

R = TypeVar("R")


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    status: str               # the archived payload's status after processing
    error: DomainError | None = None


BUSY = Outcome("failed")
BUSY_REASON = "database busy; left for the provider's retry"


def _after_processing(session: Session, payloads: list[tuple[int, str]]) -> None:
    for hook in registry.after_processing_hooks():
        hook(session, payloads)


def receive(session: Session, stream: str, body: bytes, process: Callable[[InboundPayload], R],
            *, headers=None, content_type: str | None = None, external_id: str | None = None,
            campaign_id: int | None = None, meta: dict | None = None) -> R:
    """Archive ``body`` and commit, then ``process`` the archived payload and commit.

    ``process`` (the stream's processor, or a call that answers with a result, as the API's
    does) flushes and never commits. On a DomainError the payload is marked rejected and the
    error is raised again; the archived body stays either way, so ``replay`` can take it up.
    """
    payload = archive(session, stream, body, headers=headers, content_type=content_type,
                      external_id=external_id, campaign_id=campaign_id, meta=meta)
    # What the caller looked up to authorise this stays loaded across the archive's commit.
    commit_keeping_loaded(session)
    return process_archived(session, payload, process)


def process_archived(session: Session, payload: InboundPayload,
                     process: Callable[[InboundPayload], R]) -> R:
    """Process an archived payload and commit; a DomainError rejects it (committed)."""
    try:
        result = process(payload)
        _after_processing(session, [(payload.id, payload.stream)])
    except DomainError as exc:
        session.rollback()
        mark(payload, "rejected", exc.message)
        session.commit()
        raise
    session.commit()
    return result


def processor(session: Session, stream: str) -> Callable[[InboundPayload], None]:
    """The registered stream's processor, bound to ``session`` (for ``receive``)."""
    process = registry.get(stream).process
    return lambda payload: process(session, payload)


_payload = InboundPayload.__table__
_ARCHIVE = insert(_payload).returning(_payload.c.id, sort_by_parameter_order=True)
_MARK = update(_payload).where(_payload.c.id == bindparam("p_id")).values(
    status=bindparam("p_status"), error=bindparam("p_error"),
    processed_at=bindparam("p_at", type_=_payload.c.processed_at.type))
_MARK_MANY = update(_payload).where(_payload.c.id.in_(bindparam("ids", expanding=True))).values(
    status=bindparam("p_status"), error=None,
    processed_at=bindparam("p_at", type_=_payload.c.processed_at.type))


def archive_many(session: Session, deliveries: Sequence[Delivery]) -> None:
    """Archive every body verbatim, with one INSERT; each delivery learns its payload id."""
    now = utcnow()
    for item in deliveries:
        hint = registry.get(item.stream).campaign_hint
        item.campaign_id = hint(session, item.event) if hint else None
        item.received_at = now
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
        fast = registry.get(stream).batch
        if fast is None:
            continue
        group = [deliveries[i] for i in indexes]
        try:
            with session.begin_nested():
                taken = fast(session, group)
        except DomainError:
            continue  # one by one, below, where each gets its own answer
        if taken:
            by_status: dict[str, list[int]] = {}
            for i, status in taken.items():
                by_status.setdefault(status, []).append(group[i].payload_id)
            now = utcnow()
            # One statement per status, not one per delivery: on PostgreSQL each is a round
            # of parse, plan and execute in the server.
            for status, ids in by_status.items():
                session.execute(_MARK_MANY, {"ids": ids, "p_status": status, "p_at": now})
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
            registry.get(item.stream).process(session, payload)
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


# Deliveries per group at most: enough to share a transaction's fixed costs, few enough that
# one group's write transaction stays short (on SQLite it holds the write lock).
GROUP_LIMIT = 64
_LOCK_NOT_TAKEN = "twestival.inbox.lock_not_taken"


class GroupInbox:
    """Webhook deliveries, received in groups (``storage.groupcommit``); each caller still
    gets its own delivery's ``Outcome``, or ``BUSY``. ``session`` is a scoped session: the
    group's leader writes with its own."""

    def __init__(self, session, limit: int = GROUP_LIMIT):
        self._session = session
        self._group = GroupCommit(self._write, limit=limit, ready=self._take_lock)

    def receive(self, item: Delivery) -> Outcome:
        return self._group.submit(item)

    def _take_lock(self) -> None:
        """The leader begins its write transaction before it takes the group (on SQLite that
        waits for the write lock another process may hold), so the deliveries that arrive
        while it waits go in its group."""
        session = self._session
        try:
            session.connection()
        except OperationalError:
            session.rollback()
            session.info[_LOCK_NOT_TAKEN] = True

    def _write(self, deliveries: Sequence[Delivery]) -> list[Outcome]:
        """One group: archive and commit, process and commit."""
        session = self._session
        if session.info.pop(_LOCK_NOT_TAKEN, False):
            return [BUSY] * len(deliveries)
        try:
            archive_many(session, deliveries)
            session.commit()
        except OperationalError:
            session.rollback()
            return [BUSY] * len(deliveries)
        try:
            outcomes = process_many(session, deliveries)
            _after_processing(session, [(item.payload_id, item.stream) for item in deliveries])
            session.commit()
        except OperationalError:
            # Busy or gone for a moment: the deliveries are archived; the provider retries.
            session.rollback()
            try:
                mark_failed(session, deliveries, BUSY_REASON)
                session.commit()
            except OperationalError:
                session.rollback()
            return [BUSY] * len(deliveries)
        return outcomes
