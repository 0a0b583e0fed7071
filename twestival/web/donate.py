"""Donating from a city page: the form posts here, we send the donor to Stripe or PayPal.

The form is CSRF-protected and rate-limited per IP address (card testers try many small
payments quickly). No card data ever reaches us: the provider hosts the payment page.
"""
from __future__ import annotations

import logging
import secrets

from flask import (Blueprint, current_app, flash, redirect, render_template, request,
                   url_for)

from sqlalchemy.exc import OperationalError

from ..campaigns.service import get_campaign, get_city
from ..storage.database import reset_read_only, set_read_only
from ..errors import DomainError, InvalidInput
from ..extensions import db, limiter
from ..streams import checkout
from ..streams.paypal import events as paypal_stream
from ..streams.checkout import PaymentProviderError
from ..streams.paypal.signature import CERTS_KEY, CertFetcher
from ..streams.paypal.client import Settings as PaypalSettings

log = logging.getLogger(__name__)
bp = Blueprint("donate", __name__)


def _paypal() -> PaypalSettings | None:
    return PaypalSettings.from_config(current_app.config)


def _http():
    """The httpx client shared with the PayPal certificate fetcher."""
    return current_app.extensions.setdefault(CERTS_KEY, CertFetcher()).client


@bp.app_context_processor
def _donate_options():
    def donate_options(city):
        low, high = checkout.bounds(current_app.config, city.currency)
        return {"stripe": bool(current_app.config.get("STRIPE_SECRET_KEY")),
                "paypal": _paypal() is not None, "min": low, "max": high,
                "form_key": secrets.token_urlsafe(16)}
    return {"donate_options": donate_options}


def _donate_limit() -> str:
    return current_app.config["DONATE_RATE_LIMIT"]


@bp.post("/c/<campaign>/<city>/donate")
@limiter.limit(_donate_limit, methods=["POST"])
def start(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    back = url_for("public.city", campaign=camp.slug, city=place.slug) + "#donate"
    method = request.form.get("method", "stripe")
    try:
        gift = checkout.gift(current_app.config, camp, place, request.form)
        if method == "paypal" and _paypal() is not None:
            url = checkout.start_paypal_order(
                gift, _paypal(), _http(),
                return_url=url_for("donate.paypal_return", campaign=camp.slug, city=place.slug,
                                   _external=True),
                cancel_url=url_for("public.city", campaign=camp.slug, city=place.slug,
                                   _external=True))
        elif method == "stripe" and current_app.config.get("STRIPE_SECRET_KEY"):
            url = checkout.start_stripe_checkout(
                gift, api_key=current_app.config["STRIPE_SECRET_KEY"],
                api_base=current_app.config.get("STRIPE_API_BASE"),
                success_url=url_for("donate.thanks", campaign=camp.slug, city=place.slug,
                                    _external=True) + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=url_for("public.city", campaign=camp.slug, city=place.slug,
                                   _external=True))
        else:
            raise InvalidInput("online donations are not open for this city")
    except (InvalidInput, PaymentProviderError) as exc:
        db.session.rollback()
        flash(exc.message)
        return redirect(back, 303)
    db.session.rollback()  # nothing of ours was written
    return redirect(url, 303)


@bp.get("/c/<campaign>/<city>/donate/paypal/return")
def paypal_return(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    settings = _paypal()
    if settings is None:
        raise InvalidInput("PayPal donations are not open")
    order = checkout.capture_paypal_order(settings, _http(), request.args.get("token", ""))
    _record_capture(order)
    return redirect(url_for("donate.thanks", campaign=camp.slug, city=place.slug), 303)


def _record_capture(order: dict) -> None:
    """Count the capture PayPal just confirmed to us; its webhook, when it comes, adds nothing.
    If this fails the webhook still brings the money, so the donor is not shown an error."""
    db.session.rollback()  # end the read-only transaction of this GET
    token = set_read_only(False)
    try:
        paypal_stream.receive_order_capture(db.session, order)
    except DomainError:
        pass   # rejected and kept in the archive; the webhook still brings the money
    except OperationalError:
        db.session.rollback()
        log.warning("PayPal capture of order %s not recorded now; its webhook will bring it",
                    order.get("id"))
    finally:
        reset_read_only(token)


@bp.get("/c/<campaign>/<city>/thanks")
def thanks(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    return render_template("donate/thanks.html", campaign=camp, city=place)
