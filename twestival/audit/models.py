from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DDL, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from ..ledger.models import append_only_ddl
from ..storage.database import Base, UTCDateTime, utcnow


class AuditEntry(Base):
    """One action. Never changed or removed (database triggers refuse UPDATE and DELETE)."""
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_campaign_at", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # NULL: the command line or the system (a matched bank deposit), not a signed-in person.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(String(48))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    # What was acted on, e.g. "entry 12" or "dana@example.org", as it read at the time.
    subject: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSON)


def trigger_ddl(dialect: str) -> list[str]:
    return append_only_ddl(dialect, (AuditEntry.__tablename__,))


for _dialect in ("sqlite", "postgresql"):
    # The PostgreSQL function is CREATE OR REPLACE: running it again here, after the table
    # exists, does not depend on the order in which create_all makes the tables.
    for _sql in trigger_ddl(_dialect):
        event.listen(AuditEntry.__table__, "after_create", DDL(_sql).execute_if(dialect=_dialect))
