"""The leaderboard read model: built from running totals only, never from the entries."""
from __future__ import annotations

from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City, CityStatus
from ..campaigns.night import iso, window
from .models import CityTotal, UnassignedTotal


def _row(city: City, total: CityTotal) -> dict:
    starts_at, ends_at = window(city)
    return {
        "slug": city.slug,
        "name": city.name,
        "currency": city.currency,
        "target_minor": city.target_minor,
        "raised_minor": total.raised_minor,
        "raised_reporting_minor": total.raised_reporting_minor,
        "provisional_minor": total.provisional_minor,
        "provisional_reporting_minor": total.provisional_reporting_minor,
        "to_go_minor": max(0, city.target_minor - total.raised_minor),
        # Share of the city's own target, in basis points: fair across currencies and sizes.
        "share_bp": total.raised_minor * 10_000 // city.target_minor,
        "donations": total.donations,
        "timezone": city.timezone,
        "country": city.country,
        "starts_at": iso(starts_at),
        "ends_at": iso(ends_at),
    }


def rank_rows(rows: list[dict]) -> list[dict]:
    """Order by share of target; equal shares share a rank (1, 2, 2, 4)."""
    def share(row):
        return Fraction(row["raised_minor"], row["target_minor"])

    rows.sort(key=lambda r: (-share(r), -r["raised_reporting_minor"], r["name"]))
    previous, rank = None, 0
    for position, row in enumerate(rows, start=1):
        key = share(row)
        if key != previous:
            rank, previous = position, key
        row["rank"] = rank
    return rows


def city_rows(session: Session, campaign: Campaign) -> list[dict]:
    pairs = session.execute(
        select(City, CityTotal).join(CityTotal, CityTotal.city_id == City.id)
        .where(City.campaign_id == campaign.id, City.status == CityStatus.approved)).all()
    return rank_rows([_row(city, total) for city, total in pairs])


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
