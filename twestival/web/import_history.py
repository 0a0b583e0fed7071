"""The imports history: every imported file with who ran it, when, its hash and its report.

Organisers see their city's imports, coordinators every import of the campaign (bank
statements matched by reference included). Read-only: an import is reopened, never redone
from here (``twestival replay`` re-processes archived files).
"""
from __future__ import annotations

from flask import Blueprint, render_template

from ..campaigns.service import get_campaign, get_city
from ..extensions import db
from ..streams.files import history
from .authz import require_city, require_coordinator

bp = Blueprint("import_history", __name__)


@bp.get("/organise/<campaign>/<city>/imports/history")
def city_list(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    require_city(camp, place)
    return render_template("money_desk/history.html", camp=camp, place=place,
                           records=history.listing(db.session, camp, place))


@bp.get("/organise/<campaign>/<city>/imports/history/<int:record_id>")
def city_one(campaign: str, city: str, record_id: int):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    require_city(camp, place)
    return render_template("money_desk/history_one.html", camp=camp, place=place,
                           record=history.get(db.session, camp, record_id, city=place),
                           city_name=place.name)


@bp.get("/coordinate/<campaign>/imports/history")
def campaign_list(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return render_template("money_desk/history.html", camp=camp, place=None,
                           records=history.listing(db.session, camp))


@bp.get("/coordinate/<campaign>/imports/history/<int:record_id>")
def campaign_one(campaign: str, record_id: int):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    record = history.get(db.session, camp, record_id)
    city_name = next((c.name for c in camp.cities if c.id == record.city_id), None)
    return render_template("money_desk/history_one.html", camp=camp, place=None,
                           record=record, city_name=city_name)
