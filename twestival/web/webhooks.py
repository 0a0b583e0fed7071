"""Webhooks from payment providers: verify, then hand to the inbox (``streams.inbox``).

Only deliveries whose signature verifies are stored: an unauthenticated sender must not be able
to write to our database (a rejected delivery is logged with its hash instead). The inbox
archives and commits a verified body before processing it, so a failure never loses it, and
takes deliveries that arrive together as a group; each still gets its own answer. A database
that is busy answers 503, so the provider retries; processing is idempotent, so the retry
counts once.

On a busy night deliveries are most of what a process serves, and Flask's routing, hooks and
response handling cost as much as a delivery's share of the write. So ``Deliveries`` answers
them below Flask, in an app context, with the same answer and headers the view gives; the view
stays for what that path leaves to it (a body without a Content-Length).
"""
from __future__ import annotations

import hashlib
import json
import logging

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_host

from ..errors import DomainError
from ..extensions import csrf, db, limiter
from ..metrics import observe_webhook
from ..storage.database import reset_read_only, set_read_only
from ..streams.inbox import receive, registry
from ..streams.inbox.delivery import delivery
from ..streams.paypal.client import ProviderUnavailable
from .errors import error_response
from .security import baseline_headers

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


@bp.post("/<any(stripe, paypal):provider>")
def deliver(provider: str):
    with observe_webhook(provider):
        body = _body()
        if body is None:
            return error_response(413, TOO_LARGE)
        status, answer, headers = _answer(registry.get(provider), body, request.headers,
                                          request.content_type)
        return jsonify(answer), status, headers


TOO_LARGE = "request body is too large"
FAILED = "something went wrong on our side; please retry"   # providers retry a 500


def _answer(stream: registry.Stream, body: bytes, headers,
            content_type: str | None) -> tuple[int, dict, dict[str, str]]:
    """(status, JSON body, extra headers) for a delivery, whichever path it came by."""
    try:
        outcome = receive_signed(stream, body, headers, content_type)
    except registry.NotConfigured as exc:
        return exc.status, {"error": exc.message}, {}
    except ProviderUnavailable as exc:
        db.session.rollback()
        return 503, {"error": exc.message}, {"Retry-After": "30"}
    except DomainError as exc:
        log.warning("%s webhook rejected (%s): sha256=%s", stream.name, exc.message,
                    hashlib.sha256(body).hexdigest())
        return exc.status, {"error": exc.message}, {}
    if outcome is receive.BUSY:
        return 503, {"error": "the database is busy; please retry"}, {"Retry-After": "5"}
    if outcome.error is not None:
        return outcome.error.status, {"error": outcome.error.message}, {}
    return 200, {"received": True, "status": outcome.status}, {}


class Deliveries:
    """WSGI middleware: a provider's POST with a Content-Length is answered here, in an app
    context, as ``deliver`` would answer it; anything else goes on to Flask."""

    def __init__(self, wsgi_app, app: Flask):
        self.wsgi_app, self.app = wsgi_app, app
        self.paths = {f"{bp.url_prefix}/{name}": name for name in PROVIDERS}

    def __call__(self, environ, start_response):
        provider = self.paths.get(environ.get("PATH_INFO", ""))
        length = environ.get("CONTENT_LENGTH") or ""
        if (provider is None or environ.get("REQUEST_METHOD") != "POST" or not length.isdigit()
                or "HTTP_TRANSFER_ENCODING" in environ):
            return self.wsgi_app(environ, start_response)
        with self.app.app_context():
            token = set_read_only(False)
            try:
                with observe_webhook(provider):
                    status, answer, extra = self._answer(provider, environ, int(length))
            except Exception:   # as Flask would: logged, a plain 500, the session rolled back
                if self._propagate():
                    raise
                log.exception("webhook %s failed", provider)
                status, answer, extra = 500, {"error": FAILED}, {}
            finally:
                reset_read_only(token)
        body = json.dumps(answer, separators=(",", ":")).encode() + b"\n"
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                   *baseline_headers(environ.get("wsgi.url_scheme") == "https", get_host(environ)),
                   *extra.items()]
        start_response(f"{status} {HTTP_STATUS_CODES[status]}", headers)
        return [body]

    def _propagate(self) -> bool:
        # Flask's own rule: tests and debugging see the error itself.
        setting = self.app.config.get("PROPAGATE_EXCEPTIONS")
        return setting if setting is not None else (self.app.testing or self.app.debug)

    def _answer(self, provider: str, environ, length: int) -> tuple[int, dict, dict[str, str]]:
        if length > self.app.config["WEBHOOK_MAX_BODY"]:
            return 413, {"error": TOO_LARGE}, {}
        body = environ["wsgi.input"].read(length)
        return _answer(registry.get(provider), body, EnvironHeaders(environ),
                       environ.get("CONTENT_TYPE"))


def init_app(app: Flask) -> None:
    """Inside web.security's ProxyFix, so the scheme and host are the ones the proxy reported."""
    app.wsgi_app = Deliveries(app.wsgi_app, app)


def receive_signed(stream: registry.Stream, body: bytes, headers,
                   content_type: str | None) -> receive.Outcome:
    """Verify a provider's signed body, then archive and process it in the inbox (raises what
    ``verify`` raises). The sandbox checkout's payments take this path too (web/giving.py), so
    they are counted exactly as the provider's are."""
    event = stream.verify(body, headers, current_app.config, current_app.extensions)
    return current_app.extensions[INBOX].receive(
        delivery(stream.name, body, headers, content_type, event["id"], event))
