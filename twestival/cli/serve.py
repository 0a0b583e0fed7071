"""Serving: ``twestival run`` and ``twestival demo``."""
from __future__ import annotations

import os
import random

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..storage import checkpoints
from ..extensions import db, socketio
from ..planning.scheduler import start as start_scheduler
from .language import _, _l, option


def prepare_database(app: Flask) -> None:
    """Apply migrations; done on every start so a fresh SQLite install needs no extra step."""
    from flask_migrate import upgrade
    with app.app_context():
        upgrade()


def _serve(app: Flask, host: str, port: int) -> None:
    with app.app_context():
        checkpoints.start(db.engine)   # SQLite only: WAL checkpoints off the request path
    click.echo(_(" * twestival on %(url)s  (websockets: %(mode)s)",
                 url=f"http://{host}:{port}/", mode=socketio.async_mode))
    socketio.run(app, host=host, port=port, allow_unsafe_werkzeug=True, log_output=False)


@click.command("run", help=_l("Serve HTTP and websockets."))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def run_command(host, port):
    app = current_app._get_current_object()
    prepare_database(app)
    start_scheduler(app)
    _serve(app, host, port)


def _simulate(app: Flask, rate: float) -> None:
    from ..demo import SLUG, donate_once
    from ..campaigns.service import get_campaign
    rng = random.Random()
    while True:
        socketio.sleep(rng.expovariate(rate))
        with app.app_context():
            try:
                donate_once(db.session, get_campaign(db.session, SLUG), rng)
                db.session.commit()
            except Exception:  # noqa: BLE001 - a demo hiccup must not stop the show
                db.session.rollback()
                app.logger.exception("demo donation failed")


def _sandbox_on(app: Flask) -> None:
    """The demo takes gifts through the sandbox checkout, unless told not to."""
    from ..settings import SettingsError, configure_sandbox
    if os.environ.get("TWESTIVAL_PAYMENTS_SANDBOX", "").strip().lower() != "off":
        app.config["PAYMENTS_SANDBOX"] = "on"
    try:
        configure_sandbox(app)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("demo", help=_l("A demo campaign with simulated donations streaming in."))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@option("--seed", "seed_count", default=300, show_default=True,
        help=_l("Donations recorded before serving."))
@option("--rate", default=2.0, show_default=True, help=_l("Simulated donations per second."))
@option("--no-serve", is_flag=True, help=_l("Seed and exit (for scripts and tests)."))
@with_appcontext
def demo_command(host, port, seed_count, rate, no_serve):
    from ..demo import SLUG, ensure_campaign, ensure_hub, ensure_people, seed_history
    from ..demo_money import ensure_streams
    app = current_app._get_current_object()
    _sandbox_on(app)
    prepare_database(app)
    campaign = ensure_campaign(db.session)
    people = ensure_people(db.session, campaign)
    ensure_hub(db.session, campaign, random.Random(1))
    db.session.commit()
    rng = random.Random(2009)
    with click.progressbar(length=seed_count, label=_("Seeding donations")) as bar:
        seed_history(db.session, campaign, rng, seed_count, progress=bar.update)
        db.session.commit()
    # After the back-dated gifts: the chart's point for now, taken when these commit, then
    # counts everything before it and never dips below the seeded past.
    ensure_streams(db.session, campaign)
    click.echo(_(" * demo campaign: %(url)s  (venue screen: %(screen)s)",
                 url=f"http://{host}:{port}/c/{SLUG}", screen=f"/c/{SLUG}/screen"))
    click.echo(_(" * sign in at %(url)s (passwords are new at every start):",
                 url=f"http://{host}:{port}/login"))
    for email, role, password in people:
        click.echo(f"     {email:34} {password:14} {role}")
    if no_serve:
        return
    if rate > 0:
        socketio.start_background_task(_simulate, app, rate)
    start_scheduler(app)
    _serve(app, host, port)


COMMANDS = [run_command, demo_command]
