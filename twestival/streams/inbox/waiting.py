"""Payloads that arrived before what they refer to (a refund before its donation, say).

Providers do not promise delivery order. A payload that needs a payment we have not seen yet
is parked under the keys it could be found by ("stripe:pi_…", "paypal:capture:…"). When that
payment lands, the parked payloads are processed again by their stream's (idempotent)
processor, so the final totals do not depend on the order of arrival.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...errors import DomainError
from ...storage.database import Base, UTCDateTime, utcnow
from ...storage.sql import insert_ignore
from .archive import InboundPayload, mark


class WaitingPayload(Base):
    __tablename__ = "waiting_payload"
    __table_args__ = (UniqueConstraint("payload_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payload_id: Mapped[int] = mapped_column(ForeignKey("inbound_payload.id"))
    key: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def park(session: Session, payload: InboundPayload, keys: Iterable[str]) -> None:
    for key in keys:
        session.execute(insert_ignore(session, WaitingPayload.__table__, ["payload_id", "key"],
                                      payload_id=payload.id, key=key, created_at=utcnow()))


def wake(session: Session, keys: Iterable[str],
         process: Callable[[Session, InboundPayload], None]) -> int:
    """Process again every payload parked under any of ``keys``; returns how many."""
    keys = [k for k in keys if k]
    if not keys:
        return 0
    payload_ids = sorted(set(session.scalars(
        select(WaitingPayload.payload_id).where(WaitingPayload.key.in_(keys)))))
    if not payload_ids:
        return 0
    # Forget them first: a payload that still cannot be placed parks itself again.
    session.execute(delete(WaitingPayload).where(WaitingPayload.payload_id.in_(payload_ids)))
    for payload_id in payload_ids:
        payload = session.get(InboundPayload, payload_id)
        try:
            # One bad parked payload must not block what woke it (say, the donation itself).
            with session.begin_nested():
                process(session, payload)
        except DomainError as exc:
            mark(payload, "rejected", exc.message)
    return len(payload_ids)


def unpark(session: Session, payload: InboundPayload) -> None:
    """The payload found what it needed (say on a replay): stop waiting for it."""
    session.execute(delete(WaitingPayload).where(WaitingPayload.payload_id == payload.id))
