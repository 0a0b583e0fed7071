"""Snapshots and updates of a campaign's board, with the shared sequence number."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..giving.matching import MatchOffer
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
    return with_gifts(standings(session, campaign, current_seq(session, campaign.id)),
                      gift_wall.latest(session, campaign, words, city=city), city)


def standings(session: Session, campaign: Campaign, seq: int) -> dict:
    """What every page of the campaign shows alike at ``seq``: rows, totals and every match."""
    board = leaderboard.snapshot(session, campaign, seq)
    board["matches"] = matches(session, campaign)
    return board


def with_gifts(standing: dict, gifts: list[dict], city: City | None = None) -> dict:
    """A snapshot from ``standings`` (not changed: it may be shared) and one wall's gifts."""
    return {**standing, "gifts": gifts,
            "matches": for_city(standing["matches"], city.slug if city else None)}


MATCHES_MAX = 20


def matches(session: Session, campaign: Campaign, now: dt.datetime | None = None) -> list[dict]:
    """The match gifts not over yet, soonest end first: running or upcoming, with money left.
    Clients show one between ``starts_at`` and ``ends_at`` by their own clock, so a match
    starting or ending needs no push; one spent or changed does."""
    now = now or utcnow()
    offers = session.scalars(select(MatchOffer).where(
        MatchOffer.campaign_id == campaign.id, MatchOffer.ends_at > now,
        MatchOffer.spent_minor < MatchOffer.pot_minor)
        .order_by(MatchOffer.ends_at, MatchOffer.id).limit(MATCHES_MAX))
    return [{"id": o.id, "sponsor": o.sponsor, "ratio": o.ratio, "cities": o.cities,
             "currency": o.currency, "pot_minor": o.pot_minor,
             "left_minor": o.pot_minor - o.spent_minor,
             "starts_at": _iso(o.starts_at), "ends_at": _iso(o.ends_at)} for o in offers]


def for_city(rows: list[dict], city_slug: str | None) -> list[dict]:
    """The matches one city's watchers see: those covering it (``cities`` null: every city)."""
    if city_slug is None:
        return rows
    return [m for m in rows if not m["cities"] or city_slug in m["cities"]]


def match_cities(rows: list[dict], before: list[dict] | None, present: set[str]) -> set[str]:
    """Cities whose banner differs from what their watchers were last sent."""
    old = {m["id"]: m for m in before or []}
    new = {m["id"]: m for m in rows}
    moved = [m for key, m in new.items() if old.get(key) != m]
    moved += [m for key, m in old.items() if key not in new]
    if before is None and rows:
        moved = rows   # not known what was sent (a restart): tell every covered city again
    touched = set()
    for m in moved:
        touched.update(m["cities"] or present)
    return touched & present


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


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
