"""Thank-you receipts: one per gift, in the donor's language, exactly once across redeliveries,
replays and processes; a refund sends a short notice instead."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tests.conftest import make_app
from tests.payments import (STRIPE_CONFIG, checkout_event, payments_app, post_stripe,
                            refund_event)
from twestival.campaigns.service import get_campaign
from twestival.extensions import db
from twestival.giving.receipts import GiftReceipt
from twestival.mail import OutboxMessage
from twestival.streams.inbox.replay import replay


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


def gift(session_id="cs_r1", intent="pi_r1", amount=2500, email="ada@example.org", **metadata):
    event = checkout_event(session_id, intent, amount, **metadata)
    event["data"]["object"]["customer_details"]["email"] = email
    return event


def outbox(app):
    with app.app_context():
        return [(m.to_addr, m.subject, m.body) for m in
                db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_a_gift_gets_one_receipt_with_its_details(app, client, seed):
    assert post_stripe(client, gift(fee_covered="40", amount=1290)).status_code == 200
    [(to, subject, body)] = outbox(app)
    with app.app_context():
        [receipt] = db.session.scalars(select(GiftReceipt)).all()
    number = f"TW-{receipt.id:06d}"
    assert to == "ada@example.org"
    assert subject == f"Your receipt {number} for your gift to Twestival London"
    assert f"Receipt number: {number}" in body and "Amount: £12.90" in body
    assert "you added £0.40 to cover the payment fees" in body
    assert "City: London" in body and "Date: " in body and "test payment" in body


def test_the_receipt_speaks_the_donors_language(app, client, seed):
    post_stripe(client, gift(lang="de", city="berlin", currency="eur", amount=1050))
    [(_to, subject, body)] = outbox(app)
    assert subject.startswith("Deine Quittung") and "Betrag: 10,50\u00a0€" in body


def test_redeliveries_other_events_of_the_session_and_replays_send_nothing_more(app, client, seed):
    event = gift()
    for _ in range(3):
        assert post_stripe(client, event).status_code == 200
    again = gift()
    again["id"] = "evt_other_delivery"
    again["type"] = "checkout.session.async_payment_succeeded"
    assert post_stripe(client, again).status_code == 200
    with app.app_context():
        replay(db.session, get_campaign(db.session, "tw"))
    assert len(outbox(app)) == 1


def test_two_processes_delivering_the_same_gift_send_one_receipt(app, database_url, seed):
    other = make_app(database_url, **STRIPE_CONFIG)
    try:
        event = gift()
        start = threading.Barrier(2)
        codes = []

        def deliver(instance):
            client = instance.test_client()
            start.wait()
            codes.append(post_stripe(client, event).status_code)
        threads = [threading.Thread(target=deliver, args=(a,)) for a in (app, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(codes) == [200, 200]
    finally:
        other.extensions["twestival.live"].stop()
        with other.app_context():
            db.engine.dispose()
    assert len(outbox(app)) == 1


def test_a_refund_sends_a_short_notice_once(app, client, seed):
    post_stripe(client, gift())
    refund = refund_event("ch_r1", "pi_r1", [("re_r1", 2500)], amount=2500)
    post_stripe(client, refund)
    post_stripe(client, refund)
    mails = outbox(app)
    assert len(mails) == 2
    to, subject, body = mails[1]
    assert to == "ada@example.org" and subject.startswith("Refund of your gift")
    assert "£25.00 of your gift" in body and "refunded" in body


def test_no_email_no_receipt(app, client, seed):
    event = gift()
    event["data"]["object"]["customer_details"]["email"] = None
    assert post_stripe(client, event).status_code == 200
    assert outbox(app) == []
