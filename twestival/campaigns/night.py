"""When each city's night runs: its own wall-clock start and end, as instants in UTC.

Organisers think in their city's time; screens elsewhere compare instants. Cities keep the
wall clock (so a time-zone rule change moves the instant, not the party); this converts.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo

NIGHT_HOURS = 5   # an end nobody set: this long after the start


def _utc(local: dt.datetime, timezone: str) -> dt.datetime:
    return local.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(dt.timezone.utc)


def local_end(starts_at_local: dt.datetime | None,
              ends_at_local: dt.datetime | None) -> dt.datetime | None:
    if ends_at_local is not None or starts_at_local is None:
        return ends_at_local
    return starts_at_local + dt.timedelta(hours=NIGHT_HOURS)


def window(starts_at_local: dt.datetime | None, ends_at_local: dt.datetime | None,
           timezone: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """A city's night, (start, end) in UTC, from its local times: None where it has not said."""
    end = local_end(starts_at_local, ends_at_local)
    return (_utc(starts_at_local, timezone) if starts_at_local else None,
            _utc(end, timezone) if end else None)


def iso(moment: dt.datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
