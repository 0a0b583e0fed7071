"""Outgoing mail, queued in the outbox table in the caller's transaction.

A message exists only if the transaction that wrote it commits, so a rolled-back request never
mails anyone. Delivery (SMTP when TWESTIVAL_MAIL_SERVER is set) reads the outbox after commit;
without a mail server the outbox is what coordinators read.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from .database import Base, UTCDateTime, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


def send_mail(session: Session, to: str, subject: str, body: str) -> None:
    session.add(OutboxMessage(to_addr=to, subject=subject[:300], body=body, created_at=utcnow()))
    session.flush()
