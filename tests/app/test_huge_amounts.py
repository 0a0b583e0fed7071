"""Amounts far beyond any real gift are refused at the door of every stream, and running
totals can never overflow into a float: the board, the leaderboard and reconcile keep working."""
from __future__ import annotations

import pytest

from twestival.accounts.models import Role
from twestival.campaigns.models import City
from twestival.campaigns.service import add_city, create_campaign, get_campaign
from twestival.errors import DomainError
from twestival.extensions import db
from twestival.ledger import NewEntry, reconcile, record
from twestival.ledger.limits import GIFT_CEILING_EUR, TOTAL_LIMIT, gift_ceiling
from twestival.ledger.models import CityTotal
from twestival.money import Money

from tests.helpers import post_donation
from tests.hub_support import cash_body, csrf_token, login, person, post_cash


@pytest.fixture
def rupiah(app):
    """Campaign 'idr' reporting in IDR (two decimals, ~18,000 per euro), one London city."""
    from twestival.accounts.service import create_token
    with app.app_context():
        campaign = create_campaign(db.session, "idr", name="Rupiah night", currency="IDR")
        add_city(db.session, campaign, "london", name="London", country="GB", currency="GBP",
                 timezone="Europe/London", target="2500.00")
        _row, secret = create_token(db.session, campaign)
        db.session.commit()
    return secret


def _healthy(app, client, campaign):
    assert client.get(f"/api/v1/campaigns/{campaign}/leaderboard").status_code == 200
    assert client.get(f"/c/{campaign}").status_code == 200
    with app.app_context():
        assert reconcile(db.session, get_campaign(db.session, campaign)) == []
        for total in db.session.query(CityTotal):
            assert isinstance(total.raised_reporting_minor, int)


def test_an_api_gift_of_ten_trillion_pounds_is_refused_with_422(app, client, api_token):
    refused = post_donation(client, api_token, amount="10000000000000", currency="GBP")
    assert refused.status_code == 422
    assert "at most" in refused.get_json()["error"]
    _healthy(app, client, "tw")


def test_the_largest_allowed_gift_goes_in_and_one_unit_more_does_not(app, client, api_token):
    with app.app_context():
        ceiling = gift_ceiling(db.session, "GBP")
    assert GIFT_CEILING_EUR > 0 and 0 < ceiling.minor < 10**12
    at = post_donation(client, api_token, amount=ceiling.major_str(), currency="GBP")
    assert at.status_code == 201, at.get_json()
    over = Money(ceiling.minor + 1, "GBP").major_str()
    assert post_donation(client, api_token, amount=over, currency="GBP").status_code == 422


def test_three_huge_gifts_into_a_rupiah_campaign_are_refused_and_the_board_stays_up(
        app, client, rupiah):
    answers = [post_donation(client, rupiah, campaign="idr", amount="3000000000000",
                             currency="GBP").status_code for _ in range(3)]
    assert answers == [422, 422, 422]
    ok = post_donation(client, rupiah, campaign="idr", amount="10.00", currency="GBP")
    assert ok.status_code == 201
    _healthy(app, client, "idr")


def test_a_running_total_is_checked_before_it_could_overflow(app, client, rupiah):
    """Even gifts each under the ceiling cannot push a total past its documented limit: the
    last one is refused with a reason and nothing of it is written."""
    with app.app_context():
        campaign = get_campaign(db.session, "idr")
        london = db.session.query(City).filter_by(campaign_id=campaign.id).one()
        ceiling = gift_ceiling(db.session, "GBP")
        # Bring the total next to its limit the only way the domain allows: many big gifts.
        per_gift = record(db.session, NewEntry(campaign.id, london.id, "test", "probe",
                                               ceiling)).entry.reporting_minor
        needed = TOTAL_LIMIT // per_gift
        for n in range(needed - 1):
            record(db.session, NewEntry(campaign.id, london.id, "test", f"g{n}", ceiling))
        db.session.commit()
        with pytest.raises(DomainError, match="limit"):
            record(db.session, NewEntry(campaign.id, london.id, "test", "over", ceiling))
        db.session.rollback()
    _healthy(app, client, "idr")


def test_a_volunteers_huge_cash_counts_get_a_reason_and_the_board_stays_up(app, client, seed):
    person(app, "vol@example.org", Role.volunteer, city="london")
    login(client, "vol@example.org")
    token = csrf_token(client, "/")
    answers = [post_cash(client, token, cash_body(amount="9000000000000.00"))
               for _ in range(2)]
    assert [a.status_code for a in answers] == [422, 422]
    assert "at most" in answers[0].json["error"]
    _healthy(app, client, "tw")


def test_a_huge_stripe_payment_is_rejected_with_its_reason(db_path, seed_payments):
    app, client = seed_payments
    from tests.payments import checkout_event, post_stripe
    from twestival.streams.inbox.archive import InboundPayload
    answer = post_stripe(client, checkout_event("cs_huge", "pi_huge", 900_000_000_000_00))
    assert answer.status_code == 422 and "at most" in answer.get_json()["error"]
    assert post_stripe(client, checkout_event("cs_ok", "pi_ok", 2500)).status_code == 200
    with app.app_context():
        statuses = [(p.status, p.error) for p in db.session.query(InboundPayload)
                    .order_by(InboundPayload.id)]
    assert statuses[0][0] == "rejected" and "at most" in statuses[0][1]
    assert statuses[1][0] == "processed"
    _healthy(app, client, "tw")


@pytest.fixture
def seed_payments(db_path):
    """The Stripe-enabled app of the payment tests, with campaign 'tw' and London."""
    from tests.payments import payments_app
    for app in payments_app(db_path):
        with app.app_context():
            campaign = create_campaign(db.session, "tw", name="Twestival Test", currency="GBP")
            add_city(db.session, campaign, "london", name="London", country="GB",
                     currency="GBP", timezone="Europe/London", target="2500.00")
            db.session.commit()
        yield app, app.test_client()
