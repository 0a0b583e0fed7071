"""HTTP: one blueprint per audience. Views parse, authorise and call one domain function."""
from __future__ import annotations

from flask import Flask, request

from ..storage.database import reset_read_only, set_read_only
from . import (account, api, apply, auth, coordinate, coordinate_admin, donate, errors, giving,
               i18n, import_history, matches, money_desk, ops, organise, organise_desk, pagecache,
               planning, programme, public, rates, security, templating, tokens, turns, webhooks)

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

    pagecache.init_app(app)
    webhooks.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for module in (public, api, ops, auth, account, apply, organise, coordinate, coordinate_admin,
                   i18n, planning, webhooks, donate, giving, matches, money_desk, rates, tokens,
                   programme, import_history, organise_desk):
        app.register_blueprint(module.bp)
    turns.init_app(app)
