from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.database import Base, UTCDateTime, utcnow


class Milestone(Base):
    """One step of a campaign's template, due ``days_before`` the event (negative: after it)."""
    __tablename__ = "milestone"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    details_md: Mapped[str | None] = mapped_column(Text)
    days_before: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChecklistTick(Base):
    """A city's state of one milestone; missing means not done. Unticking keeps who and when."""
    __tablename__ = "checklist_tick"
    __table_args__ = (UniqueConstraint("city_id", "milestone_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"), index=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestone.id"), index=True)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReminderSent(Base):
    """A reminder that went out. The unique key makes sending it a once-only event: whoever
    inserts the row (in the transaction that also queues the mail) is the one who sends."""
    __tablename__ = "reminder_sent"
    __table_args__ = (UniqueConstraint("city_id", "milestone_id", "kind", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"), index=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestone.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))          # "due" or "overdue"
    period_start: Mapped[dt.date] = mapped_column(Date)    # city-local date the reminder covers
    recipients: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
