"""Template helpers: money in the right digits and locale, times in the city's own zone."""
from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton, format_time
from babel.numbers import format_decimal
from flask import Flask, has_request_context
from flask_babel import get_locale

from ..campaigns.pages import check_url
from ..errors import InvalidInput
from ..money import Money, format_money
from .boardjson import compact


def locale() -> str:
    """The request's language (web/i18n.select_locale), so money and words agree."""
    return str(get_locale() or "en") if has_request_context() else "en"


def init_app(app: Flask) -> None:
    @app.template_filter("money")
    def _money(minor: int, currency: str) -> str:
        return format_money(Money(int(minor), currency), locale())

    @app.template_filter("board_json")
    def _board_json(board: dict) -> dict:
        return compact(board, locale())

    @app.template_filter("names_by_slug")
    def _names_by_slug(rows: list[dict]) -> dict[str, str]:
        # Here, not as a template loop: that took 4 ms of a 1,000-city board (bench/cities.py).
        return {row["slug"]: row["name"] for row in rows}

    @app.template_filter("bar_width")
    def _bar_width(share_bp: int) -> str:
        # A progress bar's CSS width: the share of target, full at 100 %.
        return f"{min(share_bp, 10_000) / 100:g}"

    @app.template_filter("percent")
    def _percent(value, places: int = 1) -> str:
        """3.5 -> "3.5%" in English, "3,5 %" in French and German (CLDR's percent pattern)."""
        return _percent_text(value or 0, places, locale())

    @app.template_filter("web_url")
    def _web_url(url: str | None) -> str:
        """Defence in depth: only http(s) links reach an href, whatever is stored."""
        try:
            return check_url(url) or ""
        except InvalidInput:
            return ""

    @app.template_filter("localtime")
    def _localtime(value: dt.datetime | None, tz: str) -> str:
        if value is None:
            return ""
        if value.tzinfo is None:   # wall-clock time already in the city's zone
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(tz))
        return format_datetime(value.astimezone(zoneinfo.ZoneInfo(tz)), "medium",
                               tzinfo=zoneinfo.ZoneInfo(tz), locale=locale())

    @app.template_filter("wallclock")
    def _wallclock(value: dt.datetime | None) -> str:
        """A city's own wall-clock time as people say it: day and minute, no seconds."""
        if value is None:
            return ""
        return (f'{format_skeleton("MMMEd", value, locale=locale())}, '
                f'{format_time(value, "short", locale=locale())}')


@functools.lru_cache(maxsize=65536)
def _percent_text(value, places: int, locale: str) -> str:
    # Kept, as money._formatted is: every row of a board has one (bench/cities.py).
    number = format_decimal(value, format="0." + "0" * places if places else "0", locale=locale)
    pattern = Locale.parse(locale).percent_formats[None].pattern.split(";")[0]
    return pattern.replace("#,##0", number).replace("'", "")
