"""The organiser desk's night panel: the city's live total, progress, rank and match, and the
thank-you list of its gifts (on the desk and as a CSV export).

Kept apart from ``organise`` (the desk's other sections) so each grows on its own. Organisers
of the city and the campaign's coordinators only: the list holds what donors typed, hidden or
not.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time
from flask import Blueprint, Response, current_app

from ..accounts.models import Role
from ..campaigns.models import Campaign, City, CityStatus
from ..campaigns.service import get_campaign, get_city
from ..extensions import db
from ..ledger.statement import csv_safe
from ..live.board import snapshot
from ..live.publisher import words
from ..live.thanks import thank_list
from .authz import require_city
from .templating import locale

bp = Blueprint("organise_desk", __name__)
EDITORS = (Role.organiser, Role.coordinator)
CSV_COLUMNS = ("gift", "time_utc", "amount", "currency", "name", "message", "anonymous",
               "name_on_wall", "message_on_wall", "matched")


def night_panel(campaign: Campaign, city: City, can_edit: bool) -> dict:
    """What the desk's night panel shows: the live board as the city's watchers get it (its
    row among the campaign's), and for organisers the thank-you list."""
    board = row = None
    if city.status is CityStatus.approved:
        board = snapshot(db.session, campaign, words(current_app), city=city)
        row = next((r for r in board["cities"] if r["slug"] == city.slug), None)
    return {"board": board, "row": row,
            "thanks": thank_list(db.session, campaign, city, words(current_app))
            if can_edit else None}


@bp.get("/organise/<campaign>/<city>/gifts.csv")
def gifts_csv(campaign: str, city: str):
    """Every standing gift of the city, for thanking people after the night."""
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    require_city(camp, place, EDITORS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for gift in thank_list(db.session, camp, place, words(current_app), limit=None):
        writer.writerow([csv_safe(v) for v in (
            gift.id, gift.at.strftime("%Y-%m-%dT%H:%M:%SZ"), gift.amount.major_str(),
            gift.amount.currency, gift.name, gift.message, "yes" if gift.anonymous else "no",
            gift.name_state, gift.message_state, "yes" if gift.matched else "no")])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{camp.slug}-{place.slug}-gifts.csv"',
        "Cache-Control": "no-store"})


@bp.app_context_processor
def _night_time():
    def night_time(value: dt.datetime, zone: str) -> str:
        """A gift's time as the venue's clock shows it: "21:04", with the date only when it
        is not today there."""
        local = value.astimezone(ZoneInfo(zone))
        if local.date() == dt.datetime.now(ZoneInfo(zone)).date():
            return format_time(local, "short", tzinfo=local.tzinfo, locale=locale())
        return format_datetime(local, "short", tzinfo=local.tzinfo, locale=locale())
    return {"night_time": night_time}
