"""HTTP: one blueprint per audience. Views parse, authorise and call one domain function."""
from __future__ import annotations

from flask import Flask, request

from ..database import reset_read_only, set_read_only
from . import (account, api, apply, auth, coordinate, donate, errors, i18n, money_desk, ops,
               organise, planning, public, templating, webhooks)

READ_METHODS = {"GET", "HEAD", "OPTIONS"}


def init_app(app: Flask) -> None:
    @app.before_request
    def _declare_read_only():
        request.environ["twestival.ro_token"] = set_read_only(request.method in READ_METHODS)

    @app.teardown_request
    def _forget_read_only(_exc):
        token = request.environ.pop("twestival.ro_token", None)
        if token is not None:
            reset_read_only(token)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        # A page that says where it may be framed (the widget) is not held to our own origin.
        if "frame-ancestors" not in response.headers.get("Content-Security-Policy", ""):
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    i18n.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for module in (public, api, ops, auth, account, apply, organise, coordinate, i18n, planning,
                   webhooks, donate, money_desk):
        app.register_blueprint(module.bp)
