"""Cities nearest first for a visitor, told only by the time zone their browser reports
(``Intl.DateTimeFormat().resolvedOptions().timeZone``): no location is asked for or kept."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..campaigns.models import City


def _offset(zone: str, now: dt.datetime) -> dt.timedelta | None:
    try:
        return now.astimezone(ZoneInfo(zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return None


def nearest_first(cities: Sequence[City], visitor_zone: str | None,
                  now: dt.datetime | None = None) -> list[City]:
    """Same zone first, then same country's zones' region, then by distance of UTC offsets
    (wrapping round the date line); alphabetical without a usable zone."""
    by_name = sorted(cities, key=lambda c: c.name.casefold())
    now = now or dt.datetime.now(dt.timezone.utc)
    mine = _offset(visitor_zone, now) if visitor_zone and len(visitor_zone) < 64 else None
    if mine is None:
        return by_name
    region = visitor_zone.split("/")[0]

    def distance(city: City) -> tuple:
        theirs = _offset(city.timezone, now)
        hours = abs((theirs - mine).total_seconds()) / 3600 if theirs is not None else 99
        return (city.timezone != visitor_zone, min(hours, 24 - hours),
                city.timezone.split("/")[0] != region)
    return sorted(by_name, key=distance)
