from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from ..database import Base


class LiveSequence(Base):
    """Per-campaign update counter, in the database so every process shares one sequence."""
    __tablename__ = "live_sequence"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
