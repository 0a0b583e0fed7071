"""Snapshots and updates of a campaign's board, with the shared sequence number."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign
from ..ledger import leaderboard
from ..storage.sql import insert_ignore
from ..storage.database import utcnow
from .models import LiveSequence, ProgressPoint

HISTORY_POINTS = 500


def current_seq(session: Session, campaign_id: int) -> int:
    return session.scalar(select(LiveSequence.seq).where(LiveSequence.campaign_id == campaign_id)) or 0


def next_seq(session: Session, campaign_id: int) -> int:
    session.execute(insert_ignore(session, LiveSequence.__table__, ["campaign_id"],
                                  campaign_id=campaign_id, seq=0))
    return session.execute(update(LiveSequence).where(LiveSequence.campaign_id == campaign_id)
                           .values(seq=LiveSequence.seq + 1).returning(LiveSequence.seq)).scalar_one()


def snapshot(session: Session, campaign: Campaign) -> dict:
    """Rows and seq read in one transaction, so they describe the same moment."""
    return leaderboard.snapshot(session, campaign, current_seq(session, campaign.id))


def room(campaign_slug: str) -> str:
    return f"campaign:{campaign_slug}"


def add_progress_point(session: Session, campaign_id: int, total_reporting_minor: int) -> None:
    session.add(ProgressPoint(campaign_id=campaign_id, at=utcnow(),
                              total_reporting_minor=total_reporting_minor))


def history(session: Session, campaign: Campaign) -> list[list[int]]:
    """[[unix ms, total], ...], oldest first, at most HISTORY_POINTS of the latest."""
    rows = session.execute(
        select(ProgressPoint.at, ProgressPoint.total_reporting_minor)
        .where(ProgressPoint.campaign_id == campaign.id)
        .order_by(ProgressPoint.at.desc()).limit(HISTORY_POINTS)).all()
    return [[int(at.timestamp() * 1000), total] for at, total in reversed(rows)]
