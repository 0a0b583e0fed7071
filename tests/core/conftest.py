"""The Flask-free core (money, ledger, parsers) on a real database, with no app: a plain
SQLAlchemy session on a copy of the migrated template (SQLite, and PostgreSQL when one is
configured, as for the app tests)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from twestival.storage.database import configure_engine


@pytest.fixture
def engine(database_url):
    engine = create_engine(database_url)
    configure_engine(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine) -> sessionmaker:
    return sessionmaker(engine)


@pytest.fixture
def session(sessions) -> Session:
    with sessions() as session:
        yield session


@pytest.fixture
def seed(session):
    """Campaign 'tw' reporting in GBP; London (GBP), Tokyo (JPY), Berlin (EUR)."""
    from twestival.campaigns.service import add_city, create_campaign
    campaign = create_campaign(session, "tw", name="Twestival Test", currency="GBP")
    add_city(session, campaign, "london", name="London", country="GB", currency="GBP",
             timezone="Europe/London", target="2500.00")
    add_city(session, campaign, "tokyo", name="Tokyo", country="JP", currency="JPY",
             timezone="Asia/Tokyo", target="300000")
    add_city(session, campaign, "berlin", name="Berlin", country="DE", currency="EUR",
             timezone="Europe/Berlin", target="2000.00")
    session.commit()
    return "tw"
