"""The webhook and API paths remember campaign and city facts per process
(twestival.campaigns.directory); a city added, approved or rejected after a first delivery must
still be placed exactly as a fresh lookup would place it."""
from __future__ import annotations

import pytest

from tests.helpers import post_donation
from tests.payments import board, checkout_event, payments_app, post_stripe
from twestival.accounts.service import create_user
from twestival.campaigns import applications
from twestival.campaigns.directory import city_by_slug
from twestival.campaigns.models import City
from twestival.campaigns.service import add_city, get_campaign, get_city
from twestival.extensions import db


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


def gift(client, n: int, city: str, amount: int = 1500):
    response = post_stripe(client, checkout_event(f"cs_places_{n}", f"pi_places_{n}", amount,
                                                  city=city))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "processed"


def unassigned(client) -> int:
    return board(client)["unassigned_reporting_minor"]


def apply_for(app, slug_name: str) -> None:
    with app.app_context():
        campaign = get_campaign(db.session, "tw")
        applications.submit(db.session, campaign, applications.Application(
            city_name=slug_name, country="FR", currency="EUR", timezone="Europe/Paris",
            target="1000.00", applicant_name="Applicant", applicant_email="lyon@example.org"))
        db.session.commit()


def decide(app, slug: str, approve: bool) -> None:
    with app.app_context():
        city = get_city(db.session, get_campaign(db.session, "tw"), slug)
        coordinator = create_user(db.session, "coord@example.org", name="Coordinator")
        if approve:
            applications.approve(db.session, city, coordinator)
        else:
            applications.reject(db.session, city, coordinator, "no venue yet")
        db.session.commit()


def test_a_city_added_after_a_first_webhook_is_found(app, client, seed):
    gift(client, 1, "paris")  # no such city yet: the campaign's unassigned queue
    assert unassigned(client) == 1500
    with app.app_context():
        add_city(db.session, get_campaign(db.session, "tw"), "paris", name="Paris", country="FR",
                 currency="EUR", timezone="Europe/Paris", target="1000.00")
        db.session.commit()
    gift(client, 2, "paris")
    data = board(client)
    assert data["unassigned_reporting_minor"] == 1500
    assert data["by_city"]["paris"]["donations"] == 1


def test_a_pending_city_approved_after_a_first_webhook_is_found(app, client, seed):
    apply_for(app, "Lyon")
    gift(client, 1, "lyon")  # pending: not on the board, so unassigned
    assert unassigned(client) == 1500
    decide(app, "lyon", approve=True)
    gift(client, 2, "lyon")
    data = board(client)
    assert data["unassigned_reporting_minor"] == 1500
    assert data["by_city"]["lyon"]["donations"] == 1


def test_a_rejected_city_is_unassigned_before_and_after(app, client, seed):
    apply_for(app, "Lyon")
    gift(client, 1, "lyon")
    decide(app, "lyon", approve=False)
    gift(client, 2, "lyon")
    gift(client, 3, "lyon")  # the rejection is now remembered: still unassigned
    data = board(client)
    assert data["unassigned_reporting_minor"] == 4500
    assert "lyon" not in data["by_city"]


def test_api_donations_follow_a_city_approved_after_a_refusal(app, client, seed, api_token):
    apply_for(app, "Lyon")
    refused = post_donation(client, api_token, city="lyon", currency="EUR")
    assert refused.status_code == 404
    assert refused.get_json()["error"] == "no city 'lyon' in campaign 'tw'"
    decide(app, "lyon", approve=True)
    assert post_donation(client, api_token, city="lyon", currency="EUR").status_code == 201
    assert post_donation(client, api_token, city="lyon", currency="EUR").status_code == 201
    assert board(client)["by_city"]["lyon"]["donations"] == 2


def test_a_city_from_a_rolled_back_transaction_is_not_remembered(app, seed):
    with app.app_context():
        campaign = get_campaign(db.session, "tw")
        add_city(db.session, campaign, "oslo", name="Oslo", country="NO", currency="NOK",
                 timezone="Europe/Oslo", target="10000.00")
        assert city_by_slug(db.session, campaign.id, "oslo") is not None  # our own write
        db.session.rollback()
        assert db.session.query(City).filter_by(slug="oslo").count() == 0
        assert city_by_slug(db.session, campaign.id, "oslo") is None
