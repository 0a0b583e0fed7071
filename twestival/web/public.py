"""Public pages: campaigns, live board, city pages, the venue screen."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import select

from ..campaigns.models import Campaign
from ..campaigns.service import get_campaign, get_city
from ..extensions import db
from ..live.board import history, snapshot
from ..live.publisher import words
from ..text import render_markdown

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.event_date.desc(),
                                                             Campaign.name)).all()
    return render_template("public/index.html", campaigns=campaigns)


@bp.get("/c/<campaign>")
def board(campaign: str):
    camp = get_campaign(db.session, campaign)
    return render_template("public/board.html", campaign=camp, board=snapshot(db.session, camp, words(current_app)),
                           history=history(db.session, camp))


@bp.get("/c/<campaign>/screen")
def screen(campaign: str):
    camp = get_campaign(db.session, campaign)
    return render_template("public/screen.html", campaign=camp,
                           board=snapshot(db.session, camp, words(current_app)))


@bp.get("/c/<campaign>/<city>")
def city(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    board = snapshot(db.session, camp, words(current_app), city=place)
    row = next(r for r in board["cities"] if r["slug"] == place.slug)
    return render_template("public/city.html", campaign=camp, city=place, board=board, row=row,
                           city_html=render_markdown(place.description_md))
