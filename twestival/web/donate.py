"""Donating from a city page: the form posts here, we send the donor to Stripe or PayPal.

The form is CSRF-protected and rate-limited per IP address (card testers try many small
payments quickly). No card data ever reaches us: the provider hosts the payment page.
"""
from __future__ import annotations

import dataclasses
import logging
import secrets
from decimal import Decimal

from babel.numbers import format_decimal
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ..campaigns.service import get_campaign, get_city
from ..storage.database import reset_read_only, set_read_only
from ..errors import DomainError, InvalidInput
from ..extensions import db, limiter
from ..giving import aftercare, amounts, giftaid, sandbox
from ..ledger import LedgerEntry
from ..money import Money, exponent, format_money
from ..streams import checkout
from ..streams.paypal import events as paypal_stream
from ..streams.paypal import orders as paypal_orders
from ..streams.checkout import PaymentProviderError
from ..streams.paypal.signature import CERTS_KEY, CertFetcher
from ..streams.paypal import client as paypal_client
from ..streams.paypal.client import Settings as PaypalSettings
from .templating import locale
from .i18n import say

log = logging.getLogger(__name__)
bp = Blueprint("donate", __name__)


def _paypal() -> PaypalSettings | None:
    return PaypalSettings.from_config(current_app.config)


def _http():
    """The httpx client shared with the PayPal certificate fetcher."""
    return current_app.extensions.setdefault(CERTS_KEY, CertFetcher()).client


def sandbox_checkout() -> bool:
    """The sandbox stands in for Stripe only while no real Stripe key is set."""
    return (current_app.config["PAYMENTS_SANDBOX"] == "on"
            and not current_app.config.get("STRIPE_SECRET_KEY"))


def _fee_rule(currency: str, method: str = "stripe"):
    return amounts.fee_rule(current_app.config.get("FEE_RULES") or amounts.DEFAULT_FEE_RULES,
                            method, currency)


@bp.app_context_processor
def _donate_options():
    def donate_options(city):
        low, high = checkout.bounds(current_app.config, city.currency)
        sandbox = sandbox_checkout()
        return {"stripe": bool(current_app.config.get("STRIPE_SECRET_KEY")) or sandbox,
                "sandbox": sandbox, "paypal": _paypal() is not None, "min": low, "max": high,
                "presets": [(p, amounts.preset_label(p, locale()))
                            for p in amounts.presets(city.currency)],
                "fee_text": rule.text(locale()) if (rule := _fee_rule(city.currency)) else None,
                "paypal_fee_text": rule.text(locale())
                if (rule := _fee_rule(city.currency, "paypal")) else None,
                "form_key": secrets.token_urlsafe(16)}
    return {"donate_options": donate_options, "gift_aid_titles": giftaid.TITLES}


def _donate_limit() -> str:
    return current_app.config["DONATE_RATE_LIMIT"]


@bp.post("/c/<campaign>/<city>/donate")
@limiter.limit(_donate_limit, methods=["POST"])
def start(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    # A preset button sends no method of its own: it pays the first way the form offers.
    method = request.form.get("method") or request.form.get("preset_method") or "stripe"
    declaration, errors = _gift_aid(place, method)
    try:
        chosen = _chosen_amount(place.currency)
        charged = chosen
        if method in ("stripe", "paypal") and request.form.get("cover_fees") == "on":
            rule = _fee_rule(place.currency, method)
            charged = amounts.gross_up(chosen, rule) if rule else chosen
            if method == "paypal" and charged.currency in paypal_client.NO_DECIMALS:
                whole = 10 ** exponent(charged.currency)   # PayPal takes these in whole units
                charged = Money(-(-charged.minor // whole) * whole, charged.currency)
        gift = checkout.gift(current_app.config, camp, place,
                             {**request.form.to_dict(), "amount": charged.major_str()})
        gift = dataclasses.replace(gift, fee_covered_minor=charged.minor - chosen.minor,
                                   lang=locale())
        if not errors:
            url, session_id = _start_payment(method, gift, camp, place)
    except amounts.AmountError as exc:
        errors["amount"] = _amount_message(exc, place.currency)
    except (InvalidInput, PaymentProviderError) as exc:
        errors["form"] = say(exc)
    if errors:
        db.session.rollback()
        return render_template("donate/page.html", campaign=camp, city=place, cities=None,
                               values=request.form, errors=errors), 422
    if declaration is not None:
        giftaid.declare(db.session, camp.id, session_id, declaration)
    db.session.commit()
    return redirect(url, 303)


def _start_payment(method: str, gift: checkout.Gift, camp, place) -> tuple[str, str | None]:
    """The provider's payment page, and the Checkout Session's id where there is one."""
    if method == "paypal" and _paypal() is not None:
        order = checkout.start_paypal_order(
            gift, _paypal(), _http(),
            return_url=url_for("donate.paypal_return", campaign=camp.slug, city=place.slug,
                               _external=True),
            cancel_url=url_for("public.city", campaign=camp.slug, city=place.slug,
                               _external=True))
        # Committed before the redirect, so whichever capture of it comes first finds it.
        paypal_orders.remember(db.session, order.id, camp.id, place.id, gift.amount,
                               gift.fee_covered_minor)
        return order.approve_url, None
    if method == "stripe" and current_app.config.get("STRIPE_SECRET_KEY"):
        return checkout.start_stripe_checkout(
            gift, api_key=current_app.config["STRIPE_SECRET_KEY"],
            api_base=current_app.config.get("STRIPE_API_BASE"),
            success_url=url_for("donate.thanks", campaign=camp.slug, city=place.slug,
                                _external=True) + "?session_id={CHECKOUT_SESSION_ID}",
            cancel_url=url_for("public.city", campaign=camp.slug, city=place.slug,
                               _external=True))
    if method == "stripe" and sandbox_checkout():
        session_id = sandbox.open_session(db.session, camp.id, place.id, gift.amount.minor,
                                          gift.amount.currency, gift.metadata()).id
        return url_for("giving.sandbox_page", checkout_id=session_id), session_id
    raise InvalidInput(_("Online donations are not open for this city."))


def _gift_aid(place, method: str) -> tuple[giftaid.Declaration | None, dict[str, str]]:
    """A UK Gift Aid declaration goes with GBP card gifts (they carry a session to key it on)."""
    if place.currency != "GBP" or method != "stripe":
        return None, {}
    declaration, problems = giftaid.read(request.form)
    messages = {"required": _("Please fill this in for Gift Aid."),
                "postcode": _("Please enter a UK postcode, e.g. SW1A 1AA."),
                "title": _("Please choose a title from the list.")}
    return declaration, {field: messages[code] for field, code in problems.items()}


def _chosen_amount(currency: str) -> Money:
    """A typed amount wins over a preset button (Enter in that field submits the form with
    its first button, a preset)."""
    low, high = checkout.bounds(current_app.config, currency)
    typed = (request.form.get("amount") or "").strip()
    if typed:
        amount = amounts.parse_typed(typed, currency, locale())
    else:
        amount = amounts.parse_typed(request.form.get("preset") or "", currency, "en")
    if not low.minor <= amount.minor <= high.minor:
        raise amounts.AmountError("range", "out of bounds")
    return amount


def _amount_message(exc: amounts.AmountError, currency: str) -> str:
    low, high = checkout.bounds(current_app.config, currency)
    places = exponent(currency)
    example = format_decimal(Decimal("1250.50") if places else Decimal(1250), locale=locale(),
                             format="#,##0" + ("." + "0" * places if places else ""))
    return {
        "empty": _("Choose an amount, or type one."),
        "format": _("Please write the amount as a number, e.g. %(example)s.", example=example),
        "places": _("%(currency)s amounts have at most %(places)s decimal places.",
                    currency=currency, places=exponent(currency)),
        "range": _("Please give between %(low)s and %(high)s.",
                   low=format_money(low, locale()), high=format_money(high, locale())),
    }[exc.code]


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
        # The receipt is in the language of the donor waiting on this page.
        db.session.info[aftercare.DONOR_LANG] = locale()
        paypal_stream.receive_order_capture(db.session, order)
    except DomainError:
        pass   # rejected and kept in the archive; the webhook still brings the money
    except OperationalError:
        db.session.rollback()
        log.warning("PayPal capture of order %s not recorded now; its webhook will bring it",
                    order.get("id"))
    finally:
        db.session.info.pop(aftercare.DONOR_LANG, None)
        reset_read_only(token)


@bp.get("/c/<campaign>/<city>/thanks")
def thanks(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    session_id = request.args.get("session_id", "")[:255]
    gift = db.session.scalar(select(LedgerEntry).where(
        LedgerEntry.campaign_id == camp.id, LedgerEntry.stream == "stripe",
        LedgerEntry.external_id == f"checkout:{session_id}")) if session_id else None
    return render_template("donate/thanks.html", campaign=camp, city=place, gift=gift)
