"""Giving from anywhere: the donate pages, QR codes to them, and the sandbox checkout.

The form itself posts to donate.start (web/donate.py). The sandbox checkout plays Stripe's
hosted page; a payment it takes is handed to the Stripe webhook's own path
(webhooks.receive_stripe), so it is verified, archived and processed exactly as Stripe's.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
from zoneinfo import ZoneInfo

import segno
from babel.dates import format_datetime, format_time
from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from ..audit import service as audit
from ..campaigns.models import Campaign, City
from ..campaigns.service import approved_cities, check_timezone, get_campaign, get_city
from ..errors import InvalidInput
from ..extensions import db, limiter
from ..storage.database import reset_read_only, set_read_only
from ..giving import donors, giftaid, matching, sandbox
from ..giving.nearest import nearest_first
from ..ledger.statement import csv_safe
from ..money import Money, parse
from ..streams.inbox import receive, registry
from . import pagecache, webhooks
from .authz import require_coordinator
from .donate import _donate_limit
from .matches import matches_changed
from .templating import locale
from .i18n import say

bp = Blueprint("giving", __name__)
QR_MAX_AGE = 86400


@bp.get("/c/<campaign>/donate")
def choose(campaign: str):
    """Which city to give to: the nearest by the browser's time zone is shown with its form;
    the others, nearest first, can be searched."""
    camp = get_campaign(db.session, campaign)
    cities = nearest_first(approved_cities(db.session, camp), request.args.get("tz"))
    chosen = request.args.get("city")
    city = next((c for c in cities if c.slug == chosen), None)
    if city is None and request.args.get("tz") and cities:
        city = cities[0]
    return render_template("donate/page.html", campaign=camp, city=city, cities=cities,
                           values={}, errors={})


@bp.get("/c/<campaign>/<city>/donate")
def city_page(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    return render_template("donate/page.html", campaign=camp, city=place, cities=None,
                           values={}, errors={})


def _qr(url: str) -> Response:
    out = io.BytesIO()
    # A standalone document (namespace, no XML declaration): it is shown through <img>.
    segno.make(url, error="m").save(out, kind="svg", scale=8, border=2, dark="#17202a",
                                    light="#ffffff", title=url, xmldecl=False, svgns=True)
    svg = out.getvalue()
    response = Response(svg, mimetype="image/svg+xml")
    response.set_etag(hashlib.sha256(svg).hexdigest()[:32])
    response.cache_control.public = True
    response.cache_control.max_age = QR_MAX_AGE
    return response.make_conditional(request)


@bp.get("/c/<campaign>/qr.svg")
@pagecache.public(localised=False)
def campaign_qr(campaign: str):
    camp = get_campaign(db.session, campaign)
    return _qr(url_for("giving.choose", campaign=camp.slug, _external=True))


@bp.get("/c/<campaign>/<city>/qr.svg")
@pagecache.public(localised=False)
def city_qr(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    return _qr(url_for("giving.city_page", campaign=camp.slug, city=place.slug, _external=True))


@bp.get("/coordinate/<campaign>/gift-aid.csv")
def gift_aid_schedule(campaign: str):
    """HMRC's Gift Aid schedule columns, one row per declared GBP gift that still stands."""
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    rows = giftaid.schedule(db.session, camp,
                            include_test_mode=current_app.config["PAYMENTS_SANDBOX"] == "on")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(giftaid.COLUMNS)
    writer.writerows([csv_safe(v) for v in row] for row in rows)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{camp.slug}-gift-aid.csv"',
        "Cache-Control": "no-store"})


@bp.get("/coordinate/<campaign>/donor.json")
def donor_export(campaign: str):
    """Everything the campaign holds about one donor (GDPR art. 15/20), as a JSON download.
    A GET (a link a coordinator can open), so the access itself goes into the audit log."""
    camp = get_campaign(db.session, campaign)
    user = require_coordinator(camp)
    try:
        held = donors.find(db.session, request.args.get("email", ""), campaign=camp)
    except InvalidInput:
        return jsonify(error=_("Enter the donor's email address, like name@example.org.")), 422
    salt = os.urandom(16).hex()
    document = donors.export(db.session, held)
    user_id, campaign_id, digest = user.id, camp.id, donors.email_digest(held.email, salt)
    # A GET reads in a read-only transaction; the audit entry is a write, begun as one (on
    # SQLite a read that turns into a write fails at once if anyone wrote meanwhile).
    db.session.rollback()
    token = set_read_only(False)
    try:
        # The log keeps who looked and when, and a salted digest of the address, never it.
        audit.record(db.session, user_id, "donor.exported", subject="a donor",
                     campaign_id=campaign_id, details={"salt": salt, "digest": digest})
        db.session.commit()
    finally:
        reset_read_only(token)
    return Response(json.dumps(document, indent=2, ensure_ascii=False),
                    mimetype="application/json", headers={
                        "Content-Disposition": f'attachment; filename="{camp.slug}-donor.json"',
                        "Cache-Control": "no-store"})


@bp.app_context_processor
def _matches():
    def active_matches(campaign: Campaign, city: City | None = None):
        offers = matching.active(db.session, campaign)
        return [o for o in offers if city is None or not o.cities or city.slug in o.cities]
    def match_until(offer: matching.MatchOffer, zone: str) -> str:
        """The end as a venue reads it: "22:00", with the date only when it is not today."""
        end = offer.ends_at.astimezone(ZoneInfo(zone))
        today = dt.datetime.now(ZoneInfo(zone)).date()
        return (format_time(end, "short", locale=locale()) if end.date() == today
                else format_datetime(end, "short", locale=locale()))
    return {"active_matches": active_matches, "match_until": match_until}


@bp.route("/coordinate/<campaign>/matches", methods=["GET", "POST"])
def matches(campaign: str):
    """Coordinators set up match gifts: sponsor, pot, ratio, cities, window in a time zone."""
    camp = get_campaign(db.session, campaign)
    user = require_coordinator(camp)
    cities = approved_cities(db.session, camp)
    errors, values = {}, request.form
    if request.method == "POST":
        chosen = [c for c in cities if c.slug in request.form.getlist("cities")]
        try:
            offer = _offer(camp, chosen)
        except InvalidInput as exc:
            errors["form"] = say(exc)
        else:
            audit.record(db.session, user.id, "match.created", subject=f"match {offer.id}",
                         campaign_id=camp.id, details=matching.describe(offer))
            db.session.commit()
            matches_changed(camp)
            flash(_("The match by %(sponsor)s is set up.", sponsor=offer.sponsor))
            return redirect(url_for("giving.matches", campaign=camp.slug), 303)
    offers = db.session.scalars(select(matching.MatchOffer).where(
        matching.MatchOffer.campaign_id == camp.id).order_by(matching.MatchOffer.starts_at)).all()
    currencies = sorted({camp.currency} | {c.currency for c in cities})
    return render_template("donate/matches.html", campaign=camp, cities=cities, offers=offers,
                           currencies=currencies, values=values, errors=errors,
                           zones=sorted({c.timezone for c in cities} | {"UTC"})), \
        422 if errors else 200


def _offer(camp: Campaign, chosen: list[City]) -> matching.MatchOffer:
    form = request.form
    zone = form.get("timezone") or "UTC"
    try:
        tz = ZoneInfo(check_timezone(zone))
        starts = dt.datetime.fromisoformat(form.get("starts_at") or "").replace(tzinfo=tz)
        ends = dt.datetime.fromisoformat(form.get("ends_at") or "").replace(tzinfo=tz)
        ratio = int(form.get("ratio") or "")
    except ValueError:
        raise InvalidInput(_("Please give the window as dates and times, and the ratio as a "
                             "whole number.")) from None
    pot = parse(form.get("pot") or "", form.get("currency") or camp.currency)
    return matching.create_offer(db.session, camp, sponsor=form.get("sponsor") or "", pot=pot,
                                 ratio=ratio, cities=chosen or None,
                                 starts_at=starts.astimezone(dt.timezone.utc),
                                 ends_at=ends.astimezone(dt.timezone.utc))


# --- the sandbox checkout ------------------------------------------------------------------

def _sandbox_row(checkout_id: str) -> sandbox.SandboxCheckout:
    if current_app.config["PAYMENTS_SANDBOX"] != "on":
        abort(404)
    return sandbox.find(db.session, checkout_id)


def _render(row: sandbox.SandboxCheckout, *, email: str = "", errors: dict | None = None,
            status: int = 200):
    campaign = db.session.get(Campaign, row.campaign_id)
    city = db.session.get(City, row.city_id)
    covered = int(row.meta.get("fee_covered") or 0)
    return render_template("donate/sandbox.html", row=row, campaign=campaign, city=city,
                           amount=Money(row.amount_minor, row.currency),
                           covered=Money(covered, row.currency) if covered else None,
                           email=email, errors=errors or {}), status


@bp.get("/sandbox/checkout/<checkout_id>")
def sandbox_page(checkout_id: str):
    return _render(_sandbox_row(checkout_id))


@bp.post("/sandbox/checkout/<checkout_id>")
@limiter.limit(_donate_limit, methods=["POST"])
def sandbox_pay(checkout_id: str):
    row = _sandbox_row(checkout_id)
    email = (request.form.get("email") or "").strip()[:254]
    errors = {}
    try:
        email = sandbox.check_email(email)
    except InvalidInput:
        errors["email"] = _("Please enter a valid email address.")
    declined = sandbox.card_outcome(request.form.get("card_number") or "")
    if declined is not None:
        errors["card"] = _card_message(declined[0], declined[1])
    if errors:
        return _render(row, email=email, errors=errors, status=402 if "card" in errors and
                       len(errors) == 1 else 422)
    city = db.session.get(City, row.city_id)
    thanks = url_for("donate.thanks", campaign=row.meta["campaign"], city=city.slug,
                     _external=True)
    body = sandbox.completed_event(
        row, email, success_url=thanks + "?session_id={CHECKOUT_SESSION_ID}",
        cancel_url=url_for("public.city", campaign=row.meta["campaign"], city=city.slug,
                           _external=True))
    session_id = row.id
    db.session.rollback()   # the delivery takes its own write transaction, as a webhook's does
    headers = {"Content-Type": "application/json", "User-Agent": "twestival-sandbox/1.0",
               "Stripe-Signature": sandbox.signature(
                   body, current_app.config["STRIPE_WEBHOOK_SECRET"])}
    outcome = webhooks.receive_signed(registry.get("stripe"), body, headers, "application/json")
    if outcome is receive.BUSY or outcome.error is not None:
        return _render(_sandbox_row(session_id), email=email, errors={
            "form": _("The payment could not be completed just now; please try again.")},
            status=503)
    return redirect(f"{thanks}?session_id={session_id}", 303)


def _card_message(code: str, decline_code: str | None) -> str:
    # Stripe's own wording on its Checkout page, in the donor's language.
    if code == "incorrect_number":
        return _("Your card number is incorrect.")
    if decline_code == "insufficient_funds":
        return _("Your card has insufficient funds.")
    if decline_code == "test_mode_live_card":
        return _("Your card was declined. Your request was in test mode, but used a non test "
                 "card.")
    return _("Your card was declined.")
