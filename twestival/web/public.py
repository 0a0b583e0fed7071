"""Public pages: campaigns, live board, city pages, the venue screen."""
from __future__ import annotations

import csv
import io

from flask import (Blueprint, Response, jsonify, render_template, request,
                   stream_with_context, url_for)
from flask_babel import gettext as _
from sqlalchemy import select

from ..campaigns.models import Campaign
from ..campaigns.service import get_campaign, get_city
from ..extensions import db
from ..ledger.statement import csv_safe
from ..ledger.verify import EXPORT_COLUMNS, digest, export_rows
from ..live import card
from ..live.board import history
from ..money import Money, format_money
from ..text import render_markdown
from . import pagecache, shown
from .security import csp
from .templating import locale
from .turns import off_loop

bp = Blueprint("public", __name__)


@bp.get("/")
@pagecache.public()
def index():
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.event_date.desc(),
                                                             Campaign.name)).all()
    return render_template("public/index.html", campaigns=campaigns)


def _share_image(camp, city_slug: str | None) -> str | None:
    """The card shown where a link is shared: the leading city's on the board."""
    if city_slug is None:
        return None
    return url_for("public.share_card", campaign=camp.slug, city=city_slug, _external=True)


# Rows the board page renders; live.js builds the rest from the page's JSON, and `?all=1`
# renders them all for a reader without JavaScript (bench/cities.py: a 1,000-city board).
BOARD_ROWS = 50


@bp.get("/c/<campaign>")
@pagecache.public()
def board(campaign: str):
    camp = get_campaign(db.session, campaign)
    live = shown.board(camp)
    leader = live["cities"][0]["slug"] if live["cities"] else None
    rows = live["cities"] if request.args.get("all") == "1" else live["cities"][:BOARD_ROWS]
    return render_template("public/board.html", campaign=camp, board=live, rows=rows,
                           history=history(db.session, camp),
                           share_image=_share_image(camp, leader))


@bp.get("/c/<campaign>/screen")
@pagecache.public()
def screen(campaign: str):
    camp = get_campaign(db.session, campaign)
    return render_template("public/screen.html", campaign=camp,
                           board=shown.board(camp))


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
@pagecache.public()
def city(campaign: str, city: str):
    camp, place, board, row = _city_view(campaign, city)
    return render_template("public/city.html", campaign=camp, city=place, board=board, row=row,
                           city_html=render_markdown(place.description_md),
                           share_image=_share_image(camp, place.slug))


def _place(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    return camp, get_city(db.session, camp, city, approved_only=True)


def _city_view(campaign: str, city: str):
    camp, place = _place(campaign, city)
    board = shown.board(camp, place)
    return camp, place, board, shown.row(camp, place, board)


@bp.get("/c/<campaign>/<city>/screen")
@pagecache.public()
def city_screen(campaign: str, city: str):
    camp, place, board, row = _city_view(campaign, city)
    return render_template("public/city_screen.html", campaign=camp, city=place, board=board,
                           row=row)


@bp.get("/c/<campaign>/<city>/widget")
@csp(frame_ancestors="*")
@pagecache.public()
def widget(campaign: str, city: str):
    """For an iframe on any site: the one page that may be framed anywhere."""
    camp, place, board, row = _city_view(campaign, city)
    return render_template("public/widget.html", campaign=camp, city=place, board=board,
                           row=row)


@bp.get("/c/<campaign>/<city>/card.png")
@pagecache.public()
def share_card(campaign: str, city: str):
    camp, place = _place(campaign, city)
    row = shown.row(camp, place)
    lang = locale()

    def make() -> bytes:
        return off_loop(card.draw, _("Twestival %(city)s", city=place.name),
                        format_money(Money(row["raised_minor"], place.currency), lang),
                        _("raised of %(target)s", target=format_money(
                            Money(row["target_minor"], place.currency), lang)),
                        row["share_bp"])
    png = card.cached((camp.slug, place.slug, lang), make)
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = f"public, max-age={int(card.CARD_SECONDS)}"
    return response
