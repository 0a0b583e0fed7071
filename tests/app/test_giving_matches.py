"""Match gifts: a sponsor's pot adds to each eligible gift in its window until it is spent,
never more than it holds (also with many gifts at once in two processes), and a refunded gift
takes its match back."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import make_app
from tests.hub_support import csrf_token, login, person
from tests.payments import (STRIPE_CONFIG, checkout_event, payments_app, post_stripe,
                            refund_event)
from twestival.accounts.models import Role
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.giving.matching import MatchOffer, create_offer
from twestival.ledger import LedgerEntry, reconcile
from twestival.money import Money


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


def offer(app, pot=5000, currency="GBP", ratio=1, cities=("london",), hours=(-1, 1)):
    now = dt.datetime.now(dt.timezone.utc)
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        chosen = [get_city(db.session, camp, c) for c in cities] if cities else None
        made = create_offer(db.session, camp, sponsor="Acme", pot=Money(pot, currency),
                            ratio=ratio, cities=chosen, starts_at=now + dt.timedelta(hours=hours[0]),
                            ends_at=now + dt.timedelta(hours=hours[1]))
        db.session.commit()
        return made.id


def gift(client, n, amount=1000, city="london", currency="gbp"):
    event = checkout_event(f"cs_m{n}", f"pi_m{n}", amount, currency, city=city)
    event["created"] = int(dt.datetime.now(dt.timezone.utc).timestamp())
    assert post_stripe(client, event).status_code == 200


def matches(app):
    with app.app_context():
        return db.session.scalars(select(LedgerEntry).where(LedgerEntry.stream == "match")
                                  .order_by(LedgerEntry.id)).all()


def spent(app, offer_id):
    with app.app_context():
        return db.session.get(MatchOffer, offer_id).spent_minor


def test_a_gift_in_the_window_is_matched_once(app, client, seed):
    offer_id = offer(app, ratio=2)
    gift(client, 1, 1000)
    gift(client, 1, 1000)   # a redelivery matches nothing more
    [match] = matches(app)
    assert (match.amount_minor, match.currency, match.kind.value) == (2000, "GBP", "adjustment")
    assert match.donor_name == "Acme" and spent(app, offer_id) == 2000


def test_gifts_outside_the_window_or_cities_are_not_matched(app, client, seed):
    offer(app, hours=(1, 2))
    offer(app, cities=("tokyo",))
    gift(client, 1, 1000)
    assert matches(app) == []


def test_the_last_gift_takes_what_is_left(app, client, seed):
    offer_id = offer(app, pot=2500)
    for n in range(4):
        gift(client, n, 1000)
    assert [m.amount_minor for m in matches(app)] == [1000, 1000, 500]
    assert spent(app, offer_id) == 2500


def test_a_pot_in_the_campaign_currency_matches_other_currencies(app, client, seed):
    offer_id = offer(app, pot=100000, cities=("berlin",))
    gift(client, 1, 1000, city="berlin", currency="eur")
    [match] = matches(app)
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.external_id == "checkout:cs_m1"))
        assert match.currency == "GBP" and match.amount_minor == entry.reporting_minor
    assert spent(app, offer_id) == match.amount_minor


def test_a_refund_takes_the_match_back_to_the_pot(app, client, seed):
    offer_id = offer(app)
    gift(client, 1, 1000)
    refund = refund_event("ch_m1", "pi_m1", [("re_m1", 400)], amount=1000)
    post_stripe(client, refund)
    post_stripe(client, refund)
    match, back = matches(app)
    assert back.reverses_id == match.id and back.amount_minor == -1000
    assert spent(app, offer_id) == 0
    with app.app_context():
        assert reconcile(db.session, get_campaign(db.session, "tw")) == []


def test_fifty_gifts_at_once_in_two_processes_never_exceed_the_pot(app, database_url, seed):
    offer_id = offer(app, pot=23_456)
    other = make_app(database_url, **STRIPE_CONFIG)
    try:
        start = threading.Barrier(10)
        failures = []

        def deliver(instance, numbers):
            client = instance.test_client()
            start.wait()
            for n in numbers:
                try:
                    gift(client, n, 1000)
                except AssertionError as exc:   # a 503 would be retried by Stripe
                    failures.append(exc)
        threads = [threading.Thread(target=deliver, args=((app, other)[i % 2], range(i, 50, 10)))
                   for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
    finally:
        other.extensions["twestival.live"].stop()
        with other.app_context():
            db.engine.dispose()
    total = sum(m.amount_minor for m in matches(app))
    assert total == spent(app, offer_id) == 23_456
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.stream == "stripe")) == 50


def test_the_board_and_the_city_page_show_an_active_match(app, client, seed):
    offer(app, pot=500000, ratio=1)
    gift(client, 1, 1000)
    for path in ("/c/tw", "/c/tw/london"):
        page = client.get(path).get_data(as_text=True)
        assert "Every gift to London doubled by Acme" in page
        assert "£4,990.00 of £5,000.00 left" in page
    assert "doubled by Acme" not in client.get("/c/tw/tokyo").get_data(as_text=True)


def test_a_coordinator_sets_up_a_match(app, client, seed):
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    token = csrf_token(client, "/coordinate/tw/matches")
    response = client.post("/coordinate/tw/matches", data={
        "csrf_token": token, "sponsor": "Acme", "pot": "5000", "currency": "EUR", "ratio": "1",
        "cities": ["berlin"], "starts_at": "2027-02-12T21:00", "ends_at": "2027-02-12T22:00",
        "timezone": "Europe/Berlin"})
    assert response.status_code == 303
    with app.app_context():
        [made] = db.session.scalars(select(MatchOffer)).all()
        assert (made.pot_minor, made.currency, made.cities) == (500000, "EUR", ["berlin"])
        assert made.starts_at == dt.datetime(2027, 2, 12, 20, 0, tzinfo=dt.timezone.utc)
    bad = client.post("/coordinate/tw/matches", data={
        "csrf_token": token, "sponsor": "Acme", "pot": "12.345", "currency": "EUR", "ratio": "1",
        "starts_at": "2027-02-12T21:00", "ends_at": "2027-02-12T22:00", "timezone": "UTC"})
    assert bad.status_code == 422 and "decimal places" in bad.get_data(as_text=True)


def test_organisers_cannot_set_up_matches(app, client, seed):
    person(app, "org@example.org", Role.organiser, city="london")
    login(client, "org@example.org")
    assert client.get("/coordinate/tw/matches").status_code == 403
