"""Webhooks from payment providers: verify, archive and commit, then process.

Only deliveries whose signature verifies are stored: an unauthenticated sender must not be able
to write to our database (a rejected delivery is logged with its hash instead). A verified
body is committed to the archive before processing, so a failure never loses it. A database
that is busy answers 503, so the provider retries; processing is idempotent, so the retry
counts once.
"""
from __future__ import annotations

import functools

import hashlib
import logging
from collections.abc import Callable

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import OperationalError

from ..database import commit_keeping_loaded
from ..errors import DomainError
from ..extensions import csrf, db
from ..metrics import observe_webhook
from ..streams import paypal as paypal_stream
from ..streams import stripe as stripe_stream
from ..streams.archive import InboundPayload, archive, mark
from .errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)


def _body() -> bytes | None:
    limit = current_app.config["WEBHOOK_MAX_BODY"]
    if (request.content_length or 0) > limit:
        return None
    body = request.get_data(cache=False)
    return body if len(body) <= limit else None


def _busy():
    db.session.rollback()
    response = error_response(503, "the database is busy; please retry")
    return response[0], 503, {"Retry-After": "5"}


def _rejected(stream: str, body: bytes, exc: DomainError):
    log.warning("%s webhook rejected (%s): sha256=%s", stream, exc.message,
                hashlib.sha256(body).hexdigest())
    return error_response(exc.status, exc.message)


def _receive(stream: str, body: bytes, external_id: str, hint: Callable[[], int | None],
             process: Callable[[object, InboundPayload], None]):
    try:
        payload = archive(db.session, stream, body, headers=request.headers,
                          content_type=request.content_type, external_id=external_id,
                          campaign_id=hint())
        commit_keeping_loaded(db.session)
    except OperationalError:
        return _busy()
    try:
        process(db.session, payload)
        status = payload.status  # read before the commit expires it
        db.session.commit()
    except OperationalError:
        # Busy or gone for a moment: the delivery is archived; the provider retries it.
        response = _busy()
        try:
            mark(payload, "failed", "database busy; left for the provider's retry")
            db.session.commit()
        except OperationalError:
            db.session.rollback()
        return response
    except DomainError as exc:
        db.session.rollback()
        mark(payload, "rejected", exc.message)
        db.session.commit()
        return error_response(exc.status, exc.message)
    return jsonify(received=True, status=status), 200


def timed(stream: str):
    """Webhook handling time goes to /metrics (twestival_webhook_seconds)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            with observe_webhook(stream):
                return view(*args, **kwargs)
        return wrapper
    return decorator


@bp.post("/stripe")
@timed("stripe")
def stripe_webhook():
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return error_response(404, "the Stripe stream is not configured")
    body = _body()
    if body is None:
        return error_response(413, "request body is too large")
    try:
        event = stripe_stream.verify(body, request.headers.get("Stripe-Signature"), secret)
    except DomainError as exc:
        return _rejected("stripe", body, exc)
    return _receive(stripe_stream.STREAM, body, event["id"],
                    lambda: stripe_stream.campaign_hint(db.session, event), stripe_stream.process)


@bp.post("/paypal")
@timed("paypal")
def paypal_webhook():
    settings = paypal_stream.Settings.from_config(current_app.config)
    if settings is None:
        return error_response(404, "the PayPal stream is not configured")
    body = _body()
    if body is None:
        return error_response(413, "request body is too large")
    try:
        event = paypal_stream.verify(body, request.headers, settings,
                                     current_app.extensions.setdefault("twestival.paypal_certs",
                                                                       paypal_stream.CertFetcher()))
    except paypal_stream.ProviderUnavailable as exc:
        db.session.rollback()
        response = error_response(503, exc.message)
        return response[0], 503, {"Retry-After": "30"}
    except DomainError as exc:
        return _rejected("paypal", body, exc)
    return _receive(paypal_stream.STREAM, body, event["id"],
                    lambda: paypal_stream.campaign_hint(db.session, event), paypal_stream.process)
