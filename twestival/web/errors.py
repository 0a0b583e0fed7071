"""Every error answered plainly: JSON with a reason for machines, a page for people."""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from ..errors import DomainError
from .i18n import say

JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/metrics")
# Said instead of werkzeug's default descriptions; a view's own reason (abort(400, "…")) stays.
PLAIN = {400: _l("The request could not be understood."),
         403: _l("You do not have access to this page."),
         404: _l("There is no page at this address."),
         405: _l("This address does not take that kind of request."),
         413: _l("What was sent is too large."),
         429: _l("Too many requests: please wait a moment and try again."),
         500: _l("Something went wrong on our side; please try again.")}


def wants_json() -> bool:
    return request.path.startswith(JSON_PREFIXES) or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str):
    if wants_json():
        return jsonify(error=message), status
    return render_template("error.html", status=status, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(exc.status, say(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code and exc.code < 400:
            return exc
        message = exc.description or exc.name
        if message == type(exc).description and exc.code in PLAIN:
            message = str(PLAIN[exc.code])   # werkzeug's own words are English only
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            body, status = response
            return body, status, {"Allow": ", ".join(exc.valid_methods)}
        return response
