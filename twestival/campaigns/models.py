from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Date, Enum, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..storage.database import Base, UTCDateTime, utcnow


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    charity: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    event_date: Mapped[dt.date | None] = mapped_column(Date)
    # Set: every gift converts at the rates of this day, so rankings hold still while markets
    # move. Unset: each gift at the rates of its own day.
    fx_fixed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set while the campaign is closed: no new applications (money already given stays).
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    cities: Mapped[list[City]] = relationship(back_populates="campaign", order_by="City.name")

    def __repr__(self) -> str:
        return f"<Campaign {self.slug}>"


class CityStatus(str, enum.Enum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"   # off the board; its money stays in the ledger and statement


class City(Base):
    """One city's event. Only approved cities are on the public board."""
    __tablename__ = "city"
    __table_args__ = (UniqueConstraint("campaign_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    currency: Mapped[str] = mapped_column(String(3))
    timezone: Mapped[str] = mapped_column(String(64))
    target_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[CityStatus] = mapped_column(
        Enum(CityStatus, native_enum=False, length=16), default=CityStatus.approved)
    venue: Mapped[str | None] = mapped_column(String(300))
    # Wall-clock start in the city's own time zone; shown as such, converted only for schedules.
    starts_at_local: Mapped[dt.datetime | None] = mapped_column()
    # The same for the end; none: NIGHT_HOURS after the start (campaigns/night.py).
    ends_at_local: Mapped[dt.datetime | None] = mapped_column()
    description_md: Mapped[str | None] = mapped_column(Text)
    ticket_url: Mapped[str | None] = mapped_column(String(500))
    bank_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    campaign: Mapped[Campaign] = relationship(back_populates="cities")

    def __repr__(self) -> str:
        return f"<City {self.slug}>"
