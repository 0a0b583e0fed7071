"""Webhooks from payment providers: verify, archive and commit, then process.

Only deliveries whose signature verifies are stored: an unauthenticated sender must not be able
to write to our database (a rejected delivery is logged with its hash instead). A verified
body is committed to the archive before processing, so a failure never loses it. A database
that is busy answers 503, so the provider retries; processing is idempotent, so the retry
counts once. Deliveries that arrive together are archived and processed together (group
commit, see ``groupcommit`` and ``streams.intake``); each still gets its own answer.
"""
from __future__ import annotations

import functools
import hashlib
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import OperationalError

from ..errors import DomainError
from ..extensions import csrf, db, limiter
from ..giving import aftercare
from ..groupcommit import GroupCommit
from ..metrics import observe_webhook
from ..streams import intake, stripe_batch  # noqa: F401 (stripe_batch: Stripe's batch path)
from ..streams import paypal as paypal_stream
from ..streams import stripe as stripe_stream
from .errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)


@limiter.request_filter
def _signed_delivery() -> bool:
    """Deliveries are signed by the provider, which retries what we refuse: a limit would only
    delay them. (A filter, not ``exempt``: it stops the limiter before it resolves any limit.)"""
    return request.blueprint == bp.name


def _body() -> bytes | None:
    limit = current_app.config["WEBHOOK_MAX_BODY"]
    if (request.content_length or 0) > limit:
        return None
    body = request.get_data(cache=False)
    return body if len(body) <= limit else None


def _busy():
    response = error_response(503, "the database is busy; please retry")
    return response[0], 503, {"Retry-After": "5"}


def _rejected(stream: str, body: bytes, exc: DomainError):
    log.warning("%s webhook rejected (%s): sha256=%s", stream, exc.message,
                hashlib.sha256(body).hexdigest())
    return error_response(exc.status, exc.message)


BUSY = intake.Outcome("failed")
BUSY_REASON = "database busy; left for the provider's retry"


_LOCK_NOT_TAKEN = "twestival.webhooks.lock_not_taken"


def _take_lock() -> None:
    """The group's leader begins its write transaction before it takes the group (on SQLite
    that waits for the write lock another process may hold), so the deliveries that arrive
    while it waits go in its group (see groupcommit)."""
    session = db.session
    try:
        session.connection()
    except OperationalError:
        session.rollback()
        session.info[_LOCK_NOT_TAKEN] = True


def _write(deliveries: list[intake.Delivery]) -> list[intake.Outcome]:
    """One group of deliveries (see groupcommit): archive and commit, process and commit."""
    session = db.session
    if session.info.pop(_LOCK_NOT_TAKEN, False):
        return [BUSY] * len(deliveries)
    try:
        intake.archive_many(session, deliveries)
        session.commit()
    except OperationalError:
        session.rollback()
        return [BUSY] * len(deliveries)
    try:
        outcomes = intake.process_many(session, deliveries)
        aftercare.settle(session, [d.payload_id for d in deliveries], current_app.config["BASE_URL"])
        session.commit()
    except OperationalError:
        # Busy or gone for a moment: the deliveries are archived; the provider retries them.
        session.rollback()
        try:
            intake.mark_failed(session, deliveries, BUSY_REASON)
            session.commit()
        except OperationalError:
            session.rollback()
        return [BUSY] * len(deliveries)
    return outcomes


# Deliveries per group at most: enough to share a transaction's fixed costs, few enough that
# one group's write transaction stays short (on SQLite it holds the write lock).
GROUP_LIMIT = 64


@bp.record_once
def _set_up(state) -> None:
    state.app.extensions["twestival.intake"] = GroupCommit(_write, limit=GROUP_LIMIT,
                                                                 ready=_take_lock)


def _submit(stream: str, body: bytes, headers, content_type: str | None, event: dict,
            hint) -> intake.Outcome:
    delivery = intake.delivery(stream, body, headers, content_type, event["id"], event, hint)
    return current_app.extensions["twestival.intake"].submit(delivery)


def _answer(outcome: intake.Outcome):
    if outcome is BUSY:
        return _busy()
    if outcome.error is not None:
        return error_response(outcome.error.status, outcome.error.message)
    return jsonify(received=True, status=outcome.status), 200


def receive_stripe(body: bytes, headers, content_type: str | None) -> intake.Outcome:
    """Verify, archive and process one Stripe event body (raises DomainError on a bad
    signature). The sandbox checkout's payments take this path too (web/giving.py), so they are
    counted exactly as Stripe's are."""
    event = stripe_stream.verify(body, headers.get("Stripe-Signature"),
                                 current_app.config["STRIPE_WEBHOOK_SECRET"])
    return _submit(stripe_stream.STREAM, body, headers, content_type, event,
                   stripe_stream.campaign_hint)


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
    if not current_app.config.get("STRIPE_WEBHOOK_SECRET"):
        return error_response(404, "the Stripe stream is not configured")
    body = _body()
    if body is None:
        return error_response(413, "request body is too large")
    try:
        outcome = receive_stripe(body, request.headers, request.content_type)
    except DomainError as exc:
        return _rejected("stripe", body, exc)
    return _answer(outcome)


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
    return _answer(_submit(paypal_stream.STREAM, body, request.headers, request.content_type,
                           event, paypal_stream.campaign_hint))
