"""Fixtures: a real SQLite database per test (a copy of one migrated once per session),
the app, its HTTP and Socket.IO test clients, and a seeded campaign."""
from __future__ import annotations

import shutil

import pytest

from twestival import create_app
from twestival.extensions import db, socketio

PRELOADED_CURRENCIES = ("GBP", "USD", "JPY", "KWD", "AUD", "CAD", "SEK", "CHF")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate once (the real Alembic migrations), then every test gets a copy."""
    from flask_migrate import upgrade
    from twestival.ledger.fx import ensure_rates

    path = tmp_path_factory.mktemp("template") / "template.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "t",
                      "TESTING": True})
    with app.app_context():
        upgrade()
        for code in PRELOADED_CURRENCIES:
            ensure_rates(db.session, code)
        db.session.commit()
        db.engine.dispose()
    return path


def make_app(db_path, **overrides):
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "test-secret",
              "TESTING": True, "BASE_URL": "http://localhost"}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def db_path(template_db, tmp_path):
    path = tmp_path / "twestival.db"
    shutil.copy(template_db, path)
    return path


@pytest.fixture
def app(db_path):
    app = make_app(db_path)
    yield app
    app.extensions["twestival.live"].stop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def session(app):
    with app.app_context():
        yield db.session
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def seed(app):
    """Campaign 'tw' reporting in GBP; London (GBP), Tokyo (JPY), Berlin (EUR)."""
    from twestival.campaigns.service import add_city, create_campaign
    with app.app_context():
        campaign = create_campaign(db.session, "tw", name="Twestival Test", currency="GBP")
        add_city(db.session, campaign, "london", name="London", country="GB", currency="GBP",
                 timezone="Europe/London", target="2500.00")
        add_city(db.session, campaign, "tokyo", name="Tokyo", country="JP", currency="JPY",
                 timezone="Asia/Tokyo", target="300000")
        add_city(db.session, campaign, "berlin", name="Berlin", country="DE", currency="EUR",
                 timezone="Europe/Berlin", target="2000.00")
        db.session.commit()
    return "tw"


@pytest.fixture
def api_token(app, seed):
    """A campaign-wide API token (the secret)."""
    from twestival.accounts.service import create_token
    from twestival.campaigns.service import get_campaign
    with app.app_context():
        _row, secret = create_token(db.session, get_campaign(db.session, seed))
        db.session.commit()
    return secret


@pytest.fixture
def live(app):
    client = socketio.test_client(app, namespace="/live")
    yield client
    if client.is_connected("/live"):
        client.disconnect(namespace="/live")
