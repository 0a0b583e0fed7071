"""A city's own match gifts, from the organiser desk: a sponsor's pot in the city's currency,
1:1 or 2:1, in a window of the city's local time. An organiser sets up and changes matches for
their own city only; one that covers other cities (set up by a coordinator) is shown, never
changed here. Every change is in the audit log, and the boards hear of it after the commit.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..accounts.models import Role
from ..audit import service as audit
from ..campaigns.models import Campaign, City
from ..campaigns.service import get_campaign, get_city
from ..errors import InvalidInput
from ..extensions import db
from ..giving import amounts, matching
from ..live.publisher import EXTENSION as LIVE
from ..money import Money, format_money
from .authz import require_city
from .templating import locale

bp = Blueprint("matches", __name__)
EDITORS = (Role.organiser, Role.coordinator)
RATIOS = (1, 2)


def _place(campaign: str, city: str) -> tuple[Campaign, City]:
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    require_city(camp, place, EDITORS)
    return camp, place


def _own(place: City, offer: matching.MatchOffer) -> bool:
    """A match this city's desk may change: it covers this city and no other."""
    return offer.cities == [place.slug]


def _page(camp: Campaign, place: City, *, editing=None, values=None, errors=None,
          status: int = 200):
    offers = [o for o in db.session.scalars(select(matching.MatchOffer).where(
        matching.MatchOffer.campaign_id == camp.id).order_by(matching.MatchOffer.starts_at))
        if not o.cities or place.slug in o.cities]
    if values is None and editing is not None:
        zone = ZoneInfo(place.timezone)
        values = {"sponsor": editing.sponsor, "ratio": str(editing.ratio),
                  "pot": format_decimal(Money(editing.pot_minor, editing.currency).decimal,
                                        locale=locale()),
                  "starts_at": editing.starts_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M"),
                  "ends_at": editing.ends_at.astimezone(zone).strftime("%Y-%m-%dT%H:%M")}
    zone = ZoneInfo(place.timezone)
    return render_template("organise/matches.html", campaign=camp, city=place, offers=offers,
                           local=lambda when: when.astimezone(zone).replace(tzinfo=None),
                           own=lambda o: _own(place, o), editing=editing, values=values or {},
                           errors=errors or {}, ratios=RATIOS), status


def _read(place: City) -> tuple[dict, dict]:
    """The form's fields, checked; (values, errors at the fields)."""
    form = request.form
    errors, parsed = {}, {}
    parsed["sponsor"] = " ".join((form.get("sponsor") or "").split())
    if not parsed["sponsor"] or len(parsed["sponsor"]) > 200:
        errors["sponsor"] = _("Please give the sponsor's name (at most 200 characters).")
    try:
        parsed["pot"] = amounts.parse_typed(form.get("pot") or "", place.currency, locale())
        if parsed["pot"].minor <= 0:
            raise amounts.AmountError("empty", "zero")
    except amounts.AmountError:
        errors["pot"] = _("Please give the pot as an amount in %(currency)s, e.g. %(example)s.",
                          currency=place.currency,
                          example=format_decimal(Decimal(5000), locale=locale()))
    parsed["ratio"] = int(form.get("ratio")) if form.get("ratio") in ("1", "2") else None
    if parsed["ratio"] is None:
        errors["ratio"] = _("Please choose 1:1 or 2:1.")
    zone = ZoneInfo(place.timezone)
    for field in ("starts_at", "ends_at"):
        try:
            parsed[field] = dt.datetime.fromisoformat(form.get(field) or "").replace(
                tzinfo=zone).astimezone(dt.timezone.utc)
        except ValueError:
            errors[field] = _("Please give a date and a time.")
    if not errors and parsed["ends_at"] <= parsed["starts_at"]:
        errors["ends_at"] = _("The match must end after it starts.")
    return parsed, errors


def matches_changed(camp: Campaign) -> None:
    """After the commit: boards, city pages and venue screens redraw the banner."""
    publisher = current_app.extensions.get(LIVE)
    if publisher is not None:
        publisher.changed([(camp.id, None)])


@bp.route("/organise/<campaign>/<city>/matches", methods=["GET", "POST"])
def city_matches(campaign: str, city: str):
    camp, place = _place(campaign, city)
    if request.method == "GET":
        return _page(camp, place)
    parsed, errors = _read(place)
    if not errors:
        try:
            offer = matching.create_offer(
                db.session, camp, sponsor=parsed["sponsor"], pot=parsed["pot"],
                ratio=parsed["ratio"], cities=[place], starts_at=parsed["starts_at"],
                ends_at=parsed["ends_at"])
        except InvalidInput:
            db.session.rollback()
            errors["form"] = _("The match could not be set up; please check the fields.")
    if errors:
        return _page(camp, place, values=request.form, errors=errors, status=422)
    audit.record(db.session, current_user.id, "match.created", subject=f"match {offer.id}",
                 campaign_id=camp.id, city_id=place.id, details=matching.describe(offer))
    db.session.commit()
    matches_changed(camp)
    flash(_("The match by %(sponsor)s is set up.", sponsor=offer.sponsor))
    return redirect(url_for(".city_matches", campaign=camp.slug, city=place.slug), 303)


@bp.route("/organise/<campaign>/<city>/matches/<int:offer_id>", methods=["GET", "POST"])
def edit(campaign: str, city: str, offer_id: int):
    camp, place = _place(campaign, city)
    offer = db.session.get(matching.MatchOffer, offer_id)
    # Another city's match, or one shared with other cities: not this desk's (and no hint).
    if offer is None or offer.campaign_id != camp.id or not _own(place, offer):
        abort(404)
    if request.method == "GET":
        return _page(camp, place, editing=offer)
    before = matching.describe(offer)
    parsed, errors = _read(place)
    if not errors:
        try:
            offer = matching.edit_offer(
                db.session, offer.id, sponsor=parsed["sponsor"], pot=parsed["pot"],
                ratio=parsed["ratio"], starts_at=parsed["starts_at"], ends_at=parsed["ends_at"])
        except InvalidInput:
            db.session.rollback()
            offer = db.session.get(matching.MatchOffer, offer_id)
            errors["pot"] = _("The pot cannot be less than gifts have already drawn from it "
                              "(%(spent)s).", spent=format_money(
                                  Money(offer.spent_minor, offer.currency), locale()))
    if errors:
        return _page(camp, place, editing=offer, values=request.form, errors=errors, status=422)
    audit.record(db.session, current_user.id, "match.edited", subject=f"match {offer.id}",
                 campaign_id=camp.id, city_id=place.id,
                 details={"before": before, "after": matching.describe(offer)})
    db.session.commit()
    matches_changed(camp)
    flash(_("The match by %(sponsor)s is changed.", sponsor=offer.sponsor))
    return redirect(url_for(".city_matches", campaign=camp.slug, city=place.slug), 303)
