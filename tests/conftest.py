"""Fixtures: a real database per test (a copy of one migrated once per session), the app, its
HTTP and Socket.IO test clients, and a seeded campaign.

Every test that uses the app runs on SQLite and again on PostgreSQL (``[postgresql]``) when
TWESTIVAL_TEST_DATABASE_URL names a server where tests may create databases; ``--db sqlite``
or ``--db postgresql`` picks one. Tests marked ``sqlite_only``, or that use the SQLite file
itself (``db_path``), run on SQLite only.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from twestival import create_app
from twestival.extensions import db, socketio

from . import services

# The command line speaks the environment's language (twestival/cli/language.py): tests read
# English whatever the developer's locale, in this process and in the commands it starts.
for _name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"

PRELOADED_CURRENCIES = ("GBP", "USD", "JPY", "KWD", "AUD", "CAD", "SEK", "CHF")
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption("--db", choices=("all",) + BACKENDS, default="all",
                     help="database backends to run the app tests on (default: all)")


def pytest_generate_tests(metafunc):
    if "backend" not in metafunc.fixturenames:
        return
    chosen = metafunc.config.getoption("--db")
    backends = BACKENDS if chosen == "all" else (chosen,)
    if metafunc.definition.get_closest_marker("sqlite_only") or "db_path" in metafunc.fixturenames:
        backends = tuple(b for b in backends if b == "sqlite")
    metafunc.parametrize("backend", backends, scope="session")


def migrate_and_preload(url: str) -> None:
    """The real Alembic migrations, plus the FX rates the tests convert with."""
    from flask_migrate import upgrade
    from twestival.ledger.fx import ensure_rates

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t", "TESTING": True})
    with app.app_context():
        upgrade()
        for code in PRELOADED_CURRENCIES:
            ensure_rates(db.session, code)
        db.session.commit()
        db.engine.dispose()
    app.extensions["twestival.live"].stop()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """Migrate once, then every test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate_and_preload(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres():
    server = services.Postgres(services.postgres_admin_url())
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_template(postgres):
    """A migrated database that each test's database is created from (CREATE ... TEMPLATE)."""
    name = postgres.create(prefix="twestival_template")
    try:
        migrate_and_preload(postgres.url(name))
        yield name
    finally:
        postgres.drop(name)


def make_app(database, **overrides):
    """An app on ``database``: a SQLite file path or a SQLAlchemy URL."""
    url = database if "://" in str(database) else f"sqlite:///{database}"
    config = {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
              "TESTING": True, "BASE_URL": "http://localhost"}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def database_url(backend, request, tmp_path):
    """A fresh, migrated database for this test on ``backend``."""
    if backend == "sqlite":
        path = tmp_path / "twestival.db"
        shutil.copy(request.getfixturevalue("template_db"), path)
        yield f"sqlite:///{path}"
        return
    postgres = request.getfixturevalue("postgres")
    name = postgres.create(template=request.getfixturevalue("postgres_template"))
    yield postgres.url(name)
    postgres.drop(name)


@pytest.fixture
def db_path(database_url):
    """The SQLite file behind the app (tests using it run on SQLite only)."""
    return Path(database_url.removeprefix("sqlite:///"))


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
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
