"""Snapshots and updates of a campaign's board, with the shared sequence number."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..ledger import leaderboard
from ..storage.database import utcnow
from ..storage.sql import insert_ignore
from . import gifts as gift_wall
from .models import LiveSequence, ProgressPoint

HISTORY_POINTS = 500


def current_seq(session: Session, campaign_id: int) -> int:
    return session.scalar(select(LiveSequence.seq).where(LiveSequence.campaign_id == campaign_id)) or 0


def next_seq(session: Session, campaign_id: int) -> tuple[int, int, dict[str, int]]:
    """The next update's seq, with what the previous update sent: the newest gift id and, per
    city, the seq of the last update its own watchers got. One statement; the row stays locked
    until the commit, so processes never send a gift twice or disagree about ``prev_seq``."""
    session.execute(insert_ignore(session, LiveSequence.__table__, ["campaign_id"],
                                  campaign_id=campaign_id, seq=0, gift_id=0))
    seq, gift_id, city_seqs = session.execute(
        update(LiveSequence).where(LiveSequence.campaign_id == campaign_id)
        .values(seq=LiveSequence.seq + 1)
        .returning(LiveSequence.seq, LiveSequence.gift_id, LiveSequence.city_seqs)).one()
    return seq, gift_id or 0, city_seqs or {}


def record_sent(session: Session, campaign_id: int, gift_id: int,
                city_seqs: dict[str, int]) -> None:
    session.execute(update(LiveSequence).where(LiveSequence.campaign_id == campaign_id)
                    .values(gift_id=gift_id, city_seqs=city_seqs))


def snapshot(session: Session, campaign: Campaign, words: tuple[str, ...] = (),
             city: City | None = None) -> dict:
    """Rows, gifts and seq read in one transaction, so they describe the same moment. With a
    ``city``, the gifts are that city's."""
    board = leaderboard.snapshot(session, campaign, current_seq(session, campaign.id))
    board["gifts"] = gift_wall.latest(session, campaign, words, city=city)
    return board


def room(campaign_slug: str) -> str:
    return f"campaign:{campaign_slug}"


def city_room(campaign_slug: str, city_slug: str) -> str:
    return f"campaign:{campaign_slug}:city:{city_slug}"


def neighbours(ranked: list[dict], slug: str) -> list[str]:
    """The cities just above and below ``slug`` in rank order."""
    order = [r["slug"] for r in ranked]
    if slug not in order:
        return []
    at = order.index(slug)
    return order[max(0, at - 1):at] + order[at + 1:at + 2]


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
