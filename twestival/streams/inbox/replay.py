"""Re-processing archived payloads (after a bug fix, or when processing once failed).

Each payload goes back through its stream's registered processor, which is idempotent, so
replaying everything counts nothing twice. Each payload is replayed in its own transaction
(``receive.process_archived``): one that still fails is marked and the others go on.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...campaigns.models import Campaign
from ...errors import DomainError, InvalidInput
from ...languages import N_
from ...phrases import Phrase
from . import registry
from .archive import CLAIMED_CAMPAIGN, ERASED, RECEIVING, InboundPayload, mark
from .receive import process_archived, processor


@dataclasses.dataclass
class ReplayCounts:
    payloads: int = 0
    processed: int = 0
    refused: int = 0     # bad input, refused again (e.g. a malformed file): expected
    failed: int = 0      # an unexpected error: the payload is marked failed
    incomplete: int = 0  # a file whose archiving never finished: skipped, left as it is
    erased: int = 0      # a body erased with its donor (giving/donors.py): skipped
    entries_before: int = 0
    entries_after: int = 0
    by_stream: dict[str, int] = dataclasses.field(default_factory=dict)
    failures: list[Phrase] = dataclasses.field(default_factory=list)   # said by the caller

    @property
    def new_entries(self) -> int:
        return self.entries_after - self.entries_before


def _entry_count(session: Session, campaign: Campaign) -> int:
    from sqlalchemy import func

    from ...ledger import LedgerEntry
    return session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.campaign_id == campaign.id))


def replay(session: Session, campaign: Campaign, *, stream: str | None = None,
           since: dt.datetime | None = None) -> ReplayCounts:
    """Replay the campaign's archived payloads, oldest first. Commits once per payload."""
    if stream is not None:
        registry.get(stream)   # refuses an unknown name, listing the known ones
    if since is not None and since.tzinfo is None:
        raise InvalidInput(N_("--since needs a UTC offset, e.g. 2026-02-12T20:00:00+00:00"))
    query = select(InboundPayload.id).where(or_(
        InboundPayload.campaign_id == campaign.id,
        # came before the campaign existed (or named it wrongly, since fixed)
        (InboundPayload.campaign_id.is_(None)
         & (InboundPayload.meta[CLAIMED_CAMPAIGN].as_string() == campaign.slug))))
    if stream is not None:
        query = query.where(InboundPayload.stream == stream)
    if since is not None:
        query = query.where(InboundPayload.received_at >= since)
    ids = list(session.scalars(query.order_by(InboundPayload.received_at, InboundPayload.id)))
    known = set(registry.known())
    counts = ReplayCounts(entries_before=_entry_count(session, campaign))
    session.commit()
    for payload_id in ids:
        payload = session.get(InboundPayload, payload_id)
        if payload.status == RECEIVING:
            # Its bytes are not all there (or are still arriving): processing part of a file
            # would count part of it, and marking it would hide that it is incomplete.
            counts.incomplete += 1
            counts.failures.append(Phrase(
                N_("payload %(id)s (%(stream)s) skipped: its file was not archived whole (still "
                   "arriving, or the upload stopped part-way); import the file again"),
                {"id": payload.id, "stream": payload.stream}))
            session.commit()
            continue
        if payload.status == ERASED:
            # Its donor was erased: the body is a marker, and what it counted stays counted.
            counts.erased += 1
            session.commit()
            continue
        counts.payloads += 1
        if payload.stream not in known:
            counts.failures.append(Phrase(N_("payload %(id)s: no processor for %(stream)r"),
                                          {"id": payload.id, "stream": payload.stream}))
            counts.failed += 1
            continue
        try:
            process_archived(session, payload, processor(session, payload.stream))
        except DomainError as exc:
            counts.refused += 1
            counts.failures.append(Phrase(N_("payload %(id)s (%(stream)s) refused: %(error)s"),
                                          {"id": payload.id, "stream": payload.stream,
                                           "error": exc}))
        except Exception as exc:  # one broken payload must not stop the others
            session.rollback()
            payload = session.get(InboundPayload, payload_id)
            mark(payload, "failed", f"{type(exc).__name__}: {exc}"[:2000])
            counts.failed += 1
            counts.failures.append(Phrase(N_("payload %(id)s (%(stream)s) failed: %(error)s"),
                                          {"id": payload.id, "stream": payload.stream,
                                           "error": f"{type(exc).__name__}: {exc}"}))
            session.commit()
        else:
            counts.processed += 1
            counts.by_stream[payload.stream] = counts.by_stream.get(payload.stream, 0) + 1
    counts.entries_after = _entry_count(session, campaign)
    session.commit()
    return counts
