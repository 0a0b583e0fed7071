"""Template helpers: money in the right digits and locale, times in the city's own zone."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from babel.dates import format_datetime
from flask import Flask, request

from ..money import Money, format_money


def locale() -> str:
    return (request.accept_languages.best_match(["en", "de", "fr", "es", "ja"]) or "en") \
        if request else "en"


def init_app(app: Flask) -> None:
    @app.template_filter("money")
    def _money(minor: int, currency: str) -> str:
        return format_money(Money(int(minor), currency), locale())

    @app.template_filter("localtime")
    def _localtime(value: dt.datetime | None, tz: str) -> str:
        if value is None:
            return ""
        if value.tzinfo is None:   # wall-clock time already in the city's zone
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(tz))
        return format_datetime(value.astimezone(zoneinfo.ZoneInfo(tz)), "medium",
                               tzinfo=zoneinfo.ZoneInfo(tz), locale=locale())
