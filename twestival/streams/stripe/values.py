"""Reading loosely typed fields of Stripe objects (ids, unix times) without trusting them."""
from __future__ import annotations

import datetime as dt


def text_of(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def time_of(unix: object) -> dt.datetime | None:
    if isinstance(unix, int) and not isinstance(unix, bool):
        return dt.datetime.fromtimestamp(unix, dt.timezone.utc)
    return None
