import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.database import Base, UTCDateTime


class LiveSequence(Base):
    """Per-campaign update counter, in the database so every process shares one sequence."""
    __tablename__ = "live_sequence"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)


class ProgressPoint(Base):
    """The campaign total at a moment, for the progress-over-time chart. Written by the live
    publisher (at most once a minute per process), never on the donation path."""
    __tablename__ = "progress_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    total_reporting_minor: Mapped[int] = mapped_column(BigInteger)
