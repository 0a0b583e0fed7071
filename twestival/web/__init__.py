"""HTTP: one blueprint per audience. Views parse, authorise and call one domain function."""
from __future__ import annotations

from flask import Flask, request

from ..database import reset_read_only, set_read_only
from . import api, auth, errors, money_desk, ops, public, templating

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

    templating.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for module in (public, api, ops, auth, money_desk):
        app.register_blueprint(module.bp)
