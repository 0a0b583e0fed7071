"""Public pages: campaigns, live board, city pages, the venue screen."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, render_template, stream_with_context
from sqlalchemy import select

from ..campaigns.models import Campaign
from ..campaigns.service import get_campaign, get_city
from ..extensions import db
from ..ledger.statement import csv_safe
from ..ledger.verify import EXPORT_COLUMNS, digest, export_rows
from ..live.board import history, snapshot
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
    return render_template("public/board.html", campaign=camp, board=snapshot(db.session, camp),
                           history=history(db.session, camp))


@bp.get("/c/<campaign>/screen")
def screen(campaign: str):
    camp = get_campaign(db.session, campaign)
    return render_template("public/screen.html", campaign=camp, board=snapshot(db.session, camp))


@bp.get("/c/<campaign>/ledger/digest")
def ledger_digest(campaign: str):
    """What anyone may keep to check later that the ledger only grew (docs/ledger-chain.md)."""
    camp = get_campaign(db.session, campaign)
    response = jsonify(digest(db.session, camp))
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/c/<campaign>/ledger/chain.csv")
def ledger_chain(campaign: str):
    """The public chain: each link and the fields its hash covers, no personal data."""
    camp = get_campaign(db.session, campaign)
    rows = export_rows(db.session, camp)

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([csv_safe(value) for value in row])
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    response = Response(stream_with_context(lines()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{camp.slug}-ledger-chain.csv"'})
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/c/<campaign>/<city>")
def city(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    board = snapshot(db.session, camp)
    row = next(r for r in board["cities"] if r["slug"] == place.slug)
    return render_template("public/city.html", campaign=camp, city=place, board=board, row=row,
                           city_html=render_markdown(place.description_md))
