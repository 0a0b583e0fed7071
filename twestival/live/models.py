import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.database import Base, UTCDateTime


class LiveSequence(Base):
    """Per-campaign update counter, in the database so every process shares one sequence."""
    __tablename__ = "live_sequence"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    # The newest gift (ledger entry id) already sent in an update: the next update carries the
    # gifts after it. Moved in the same transaction as ``seq``, so processes never send a gift
    # twice.
    gift_id: Mapped[int] = mapped_column(Integer, default=0)
    # {city slug: seq of the last update sent to that city's watchers}, for their ``prev_seq``.
    city_seqs: Mapped[dict | None] = mapped_column(JSON)


class ProgressPoint(Base):
    """The campaign total at a moment, for the progress-over-time chart. Written by the live
    publisher (at most once a minute per process), never on the donation path."""
    __tablename__ = "progress_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    total_reporting_minor: Mapped[int] = mapped_column(BigInteger)


class GiftModeration(Base):
    """What organisers decided about a gift's name and message. The ledger entry itself is
    append-only and its money is never hidden; only what the public sees of it changes."""
    __tablename__ = "gift_moderation"

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    name_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    message_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # A message held back by the word list shows once an organiser approved it.
    message_approved: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
