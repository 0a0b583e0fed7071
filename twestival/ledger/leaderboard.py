"""The leaderboard read model: built from running totals only, never from the entries."""
from __future__ import annotations

import functools

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City, CityStatus
from ..campaigns.night import iso, window
from .models import CityTotal, UnassignedTotal


@functools.lru_cache(maxsize=4096)
def _window(starts_at_local, ends_at_local, timezone: str) -> tuple[str | None, str | None]:
    # Kept: every push and page reads every city's window, and it changes only when edited.
    starts_at, ends_at = window(starts_at_local, ends_at_local, timezone)
    return iso(starts_at), iso(ends_at)


def _row(row) -> dict:
    (slug, name, currency, target, timezone, country, starts_at_local, ends_at_local, raised,
     raised_reporting, provisional, provisional_reporting, donations) = row
    starts_at, ends_at = _window(starts_at_local, ends_at_local, timezone)
    return {
        "slug": slug,
        "name": name,
        "currency": currency,
        "target_minor": target,
        "raised_minor": raised,
        "raised_reporting_minor": raised_reporting,
        "provisional_minor": provisional,
        "provisional_reporting_minor": provisional_reporting,
        "to_go_minor": max(0, target - raised),
        # Share of the city's own target, in basis points: fair across currencies and sizes.
        "share_bp": raised * 10_000 // target,
        "donations": donations,
        "timezone": timezone,
        "country": country,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }


def rank_rows(rows: list[dict]) -> list[dict]:
    """Order by share of target; equal shares share a rank (1, 2, 2, 4)."""
    # Each share as an integer, exactly: two shares a/b and c/d that differ, differ by at least
    # 1/(b*d), so scaled by the largest target squared their floors differ too, in the same
    # order, and equal shares scale to the same integer. (Fractions compared ten times slower.)
    scale = max((row["target_minor"] for row in rows), default=1) ** 2
    shares = {id(row): row["raised_minor"] * scale // row["target_minor"] for row in rows}
    rows.sort(key=lambda r: (-shares[id(r)], -r["raised_reporting_minor"], r["name"]))
    previous, rank = None, 0
    for position, row in enumerate(rows, start=1):
        key = shares[id(row)]
        if key != previous:
            rank, previous = position, key
        row["rank"] = rank
    return rows


_city, _total = City.__table__.c, CityTotal.__table__.c
# Plain rows, not objects, in a statement built once: every push and every board render reads
# every city (at 1,000 cities, loading them as objects was most of a snapshot).
_ROWS = (select(_city.slug, _city.name, _city.currency, _city.target_minor, _city.timezone,
                _city.country, _city.starts_at_local, _city.ends_at_local, _total.raised_minor,
                _total.raised_reporting_minor, _total.provisional_minor,
                _total.provisional_reporting_minor, _total.donations)
         .join_from(City.__table__, CityTotal.__table__, _total.city_id == _city.id)
         .where(_city.campaign_id == bindparam("campaign_id"),
                _city.status == CityStatus.approved))


def city_rows(session: Session, campaign: Campaign) -> list[dict]:
    return rank_rows([_row(row) for row in session.execute(_ROWS, {"campaign_id": campaign.id})])


def unassigned_reporting_minor(session: Session, campaign: Campaign) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(UnassignedTotal.reporting_minor), 0))
                              .where(UnassignedTotal.campaign_id == campaign.id)))


def snapshot(session: Session, campaign: Campaign, seq: int) -> dict:
    rows = city_rows(session, campaign)
    unassigned = unassigned_reporting_minor(session, campaign)
    return {
        "campaign": campaign.slug,
        "name": campaign.name,
        "seq": seq,
        "currency": campaign.currency,
        "total_raised_minor": sum(r["raised_reporting_minor"] for r in rows) + unassigned,
        "total_provisional_minor": sum(r["provisional_reporting_minor"] for r in rows),
        "unassigned_reporting_minor": unassigned,
        "cities": rows,
    }
