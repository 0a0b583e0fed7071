from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..storage.database import Base, UTCDateTime, utcnow


class Announcement(Base):
    """Sent to the organisers of every city of the campaign when it has no ``cities`` rows."""
    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body_md: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    cities: Mapped[list[AnnouncementCity]] = relationship(cascade="all, delete-orphan")


class AnnouncementCity(Base):
    __tablename__ = "announcement_city"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id"), primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"), primary_key=True)


class AnnouncementRead(Base):
    """A read receipt: this person has seen this announcement."""
    __tablename__ = "announcement_read"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
