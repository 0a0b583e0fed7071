"""Webhooks from payment providers: verify, then hand to the inbox (``streams.inbox``).

Only deliveries whose signature verifies are stored: an unauthenticated sender must not be able
to write to our database (a rejected delivery is logged with its hash instead). The inbox
archives and commits a verified body before processing it, so a failure never loses it, and
takes deliveries that arrive together as a group; each still gets its own answer. A database
that is busy answers 503, so the provider retries; processing is idempotent, so the retry
counts once.
"""
from __future__ import annotations

import hashlib
import logging

from flask import Blueprint, current_app, jsonify, request

from ..errors import DomainError
from ..extensions import csrf, db, limiter
from ..metrics import observe_webhook
from ..streams.inbox import receive, registry
from ..streams.inbox.delivery import delivery
from ..streams.paypal.client import ProviderUnavailable
from .errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(bp)
INBOX = "twestival.inbox"
PROVIDERS = ("stripe", "paypal")


@limiter.request_filter
def _signed_delivery() -> bool:
    """Deliveries are signed by the provider, which retries what we refuse: a limit would only
    delay them. (A filter, not ``exempt``: it stops the limiter before it resolves any limit.)"""
    return request.blueprint == bp.name


@bp.record_once
def _set_up(state) -> None:
    state.app.extensions[INBOX] = receive.GroupInbox(db.session)


def _body() -> bytes | None:
    limit = current_app.config["WEBHOOK_MAX_BODY"]
    if (request.content_length or 0) > limit:
        return None
    body = request.get_data(cache=False)
    return body if len(body) <= limit else None


def _retry_later(message: str, seconds: int):
    return error_response(503, message)[0], 503, {"Retry-After": str(seconds)}


@bp.post("/<any(stripe, paypal):provider>")
def deliver(provider: str):
    with observe_webhook(provider):
        return _deliver(registry.get(provider))


def _deliver(stream: registry.Stream):
    body = _body()
    if body is None:
        return error_response(413, "request body is too large")
    try:
        outcome = receive_signed(stream, body, request.headers, request.content_type)
    except registry.NotConfigured as exc:
        return error_response(exc.status, exc.message)
    except ProviderUnavailable as exc:
        db.session.rollback()
        return _retry_later(exc.message, 30)
    except DomainError as exc:
        log.warning("%s webhook rejected (%s): sha256=%s", stream.name, exc.message,
                    hashlib.sha256(body).hexdigest())
        return error_response(exc.status, exc.message)
    if outcome is receive.BUSY:
        return _retry_later("the database is busy; please retry", 5)
    if outcome.error is not None:
        return error_response(outcome.error.status, outcome.error.message)
    return jsonify(received=True, status=outcome.status), 200


def receive_signed(stream: registry.Stream, body: bytes, headers,
                   content_type: str | None) -> receive.Outcome:
    """Verify a provider's signed body, then archive and process it in the inbox (raises what
    ``verify`` raises). The sandbox checkout's payments take this path too (web/giving.py), so
    they are counted exactly as the provider's are."""
    event = stream.verify(body, headers, current_app.config, current_app.extensions)
    return current_app.extensions[INBOX].receive(
        delivery(stream.name, body, headers, content_type, event["id"], event))
