from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from ..storage.database import Base, UTCDateTime, utcnow


class RunSheetItem(Base):
    """One moment of a city's night: doors, speeches, the raffle, the appeal."""
    __tablename__ = "run_sheet_item"
    __table_args__ = (Index("ix_run_sheet_item_city_at", "city_id", "at_local"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    # Wall clock in the city's time zone, like City.starts_at_local: a time-zone rule change
    # moves the instant, not the raffle.
    at_local: Mapped[dt.datetime] = mapped_column()
    title: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(280))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sponsor(Base):
    """A sponsor's logo, name and link: the campaign's (no city) or one city's."""
    __tablename__ = "sponsor"
    __table_args__ = (Index("ix_sponsor_campaign_city", "campaign_id", "city_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    name: Mapped[str] = mapped_column(String(120))
    link: Mapped[str | None] = mapped_column(String(500))
    # The logo as we re-encoded it, never the uploaded bytes; the digest names it in its URL,
    # so a browser may cache it for good.
    image: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    image_type: Mapped[str] = mapped_column(String(32))
    image_digest: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
