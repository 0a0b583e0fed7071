"""The sandbox checkout: a demo takes a gift through Stripe's test cards, and the gift reaches the
ledger through the Stripe webhook's own path (verify, archive, process)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import select

from tests.conftest import make_app
from tests.payments import post_stripe
from twestival.campaigns.service import add_city, create_campaign
from twestival.extensions import db
from twestival.giving.receipts import GiftReceipt
from twestival.ledger import LedgerEntry
from twestival.mail import OutboxMessage
from twestival.settings import SettingsError
from twestival.streams.inbox.archive import InboundPayload

SECRET = "whsec_sandbox_test"
SANDBOX = {"PAYMENTS_SANDBOX": "on", "STRIPE_WEBHOOK_SECRET": SECRET}
PAID, DECLINED, NO_FUNDS = "4242 4242 4242 4242", "4000 0000 0000 0002", "4000 0000 0000 9995"


def _seed(app):
    with app.app_context():
        campaign = create_campaign(db.session, "tw", name="Twestival Test", currency="GBP",
                                   charity="charity: water")
        add_city(db.session, campaign, "london", name="London", country="GB", currency="GBP",
                 timezone="Europe/London", target="2500.00")
        add_city(db.session, campaign, "tokyo", name="Tokyo", country="JP", currency="JPY",
                 timezone="Asia/Tokyo", target="300000")
        db.session.commit()


def _app(url, **config):
    app = make_app(url, **{**SANDBOX, **config})
    _seed(app)
    return app


def sandbox_app(url, **config):
    """The app with the sandbox on and the campaign seeded, for a fixture to yield from."""
    app = _app(url, **config)
    yield app
    app.extensions["twestival.live"].stop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def app(database_url):
    yield from sandbox_app(database_url)


def fields(client, city="london"):
    page = client.get(f"/c/tw/{city}/donate").get_data(as_text=True)
    return dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', page))


def start(client, city="london", **data):
    response = client.post(f"/c/tw/{city}/donate", data={**fields(client, city), **data})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def csrf(client, url):
    page = client.get(url)
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def pay(client, url, card=PAID, email="ada@example.org"):
    return client.post(url, data={"csrf_token": csrf(client, url), "email": email,
                                  "card_number": card, "card_expiry": "12 / 34",
                                  "card_cvc": "123"})


def entries(app):
    with app.app_context():
        return db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()


def test_a_preset_leads_to_the_sandbox_checkout_and_the_test_card_pays(app, client):
    url = start(client, preset="25.00")
    assert re.fullmatch(r"/sandbox/checkout/cs_test_[0-9a-f]{32}", url)
    page = client.get(url).get_data(as_text=True)
    assert "£25.00" in page and "TEST MODE" in page and "Cancel and go back" in page
    paid = pay(client, url)
    assert paid.status_code == 303
    session_id = url.rsplit("/", 1)[1]
    assert paid.headers["Location"] == f"http://localhost/c/tw/london/thanks?session_id={session_id}"
    [entry] = entries(app)
    assert (entry.stream, entry.external_id, entry.amount_minor, entry.currency) == (
        "stripe", f"checkout:{session_id}", 2500, "GBP")
    assert entry.meta["test_mode"] is True and entry.anonymous
    thanks = client.get(paid.headers["Location"]).get_data(as_text=True)
    assert "Your gift of £25.00 to Twestival London is on the live board." in thanks
    assert "test payment" in thanks
    with app.app_context():
        [payload] = db.session.scalars(select(InboundPayload)).all()
        assert payload.stream == "stripe" and payload.status == "processed"
        assert payload.headers["Stripe-Signature"].startswith("t=")
        event = json.loads(payload.body)
        assert event["type"] == "checkout.session.completed" and event["livemode"] is False
        assert event["data"]["object"]["customer_details"]["email"] == "ada@example.org"


@pytest.mark.parametrize("card,message", [
    (DECLINED, "Your card was declined."), (NO_FUNDS, "Your card has insufficient funds."),
    ("4242 4242 4242 4241", "Your card number is incorrect."),
    ("5555 5555 5555 4444", "Your card was declined. Your request was in test mode"),
])
def test_declined_cards_show_stripes_message_and_record_nothing(app, client, card, message):
    url = start(client, amount="12.50")
    response = pay(client, url, card=card)
    assert response.status_code == 402
    page = response.get_data(as_text=True)
    assert message in page and 'id="card-error"' in page
    assert "".join(card.split()) not in page and f'value="{card}' not in page  # not echoed back
    assert 'value="ada@example.org"' in page                         # the email is kept
    assert entries(app) == []
    with app.app_context():
        assert db.session.scalars(select(InboundPayload)).all() == []


def test_card_numbers_are_never_stored_or_logged(app, client, db_path, caplog):
    caplog.set_level("DEBUG")
    url = start(client, amount="12.50")
    pay(client, url, card=DECLINED)
    pay(client, url, card=PAID)
    assert len(entries(app)) == 1
    with app.app_context():
        db.engine.dispose()
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    for number in ("4242424242424242", "4000000000000002", PAID, DECLINED):
        assert number.encode() not in stored
        assert number not in caplog.text


def test_a_bad_email_is_refused_at_the_field(app, client):
    url = start(client, amount="12.50")
    response = pay(client, url, email="not-an-address")
    assert response.status_code == 422
    assert 'id="email-error"' in response.get_data(as_text=True)
    assert entries(app) == []


def test_paying_twice_counts_once(app, client):
    url = start(client, amount="12.50")
    assert pay(client, url).status_code == 303
    assert pay(client, url).status_code == 303
    assert len(entries(app)) == 1


def test_a_sandbox_gift_and_the_same_gift_from_stripe_make_identical_entries(app, client,
                                                                            template_db, tmp_path):
    url = start(client, amount="12.50", donor_name="Ada", message="For London", cover_fees="on")
    pay(client, url)
    [sandboxed] = entries(app)
    with app.app_context():
        body = db.session.scalar(select(InboundPayload.body))
    # The same event delivered by "Stripe" to a second installation's webhook endpoint.
    other_db = tmp_path / "other.db"
    shutil.copy(template_db, other_db)
    other = _app(f"sqlite:///{other_db}", PAYMENTS_SANDBOX="off")
    try:
        response = post_stripe(other.test_client(), body, secret=SECRET)
        assert response.status_code == 200, response.get_data(as_text=True)
        [delivered] = entries(other)
    finally:
        other.extensions["twestival.live"].stop()
    columns = [c.key for c in LedgerEntry.__table__.columns
               if c.key not in {"id", "payload_id", "recorded_at"}]
    assert {c: getattr(sandboxed, c) for c in columns} == {c: getattr(delivered, c) for c in columns}
    assert sandboxed.meta["fee_covered_minor"] == 40 and sandboxed.amount_minor == 1290


def test_cancel_returns_to_the_form(app, client):
    url = start(client, amount="12.50")
    page = client.get(url).get_data(as_text=True)
    cancel = re.search(r'<p class="cancel"><a href="([^"]+)"', page).group(1)
    assert cancel == "/c/tw/london/donate"
    assert 'id="donate"' in client.get(cancel).get_data(as_text=True)


def test_sandbox_pages_answer_404_when_it_is_off(database_url):
    app = make_app(database_url, PAYMENTS_SANDBOX="off", STRIPE_WEBHOOK_SECRET=SECRET)
    try:
        _seed(app)
        client = app.test_client()
        assert client.get("/sandbox/checkout/cs_test_" + "0" * 32).status_code == 404
        assert client.post("/sandbox/checkout/cs_test_" + "0" * 32).status_code in {400, 404}
        assert 'id="donate"' not in client.get("/c/tw/london/donate").get_data(as_text=True)
    finally:
        app.extensions["twestival.live"].stop()


def test_an_unknown_sandbox_session_is_404(app, client):
    assert client.get("/sandbox/checkout/cs_test_nope").status_code == 404
    assert client.get("/sandbox/checkout/pi_123").status_code == 404


def test_the_app_refuses_the_sandbox_with_a_live_key(database_url):
    with pytest.raises(SettingsError, match="live key"):
        make_app(database_url, PAYMENTS_SANDBOX="on", STRIPE_SECRET_KEY="sk_live_abc")


def test_the_cli_says_why_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TWESTIVAL_PAYMENTS_SANDBOX": "on",
           "TWESTIVAL_STRIPE_SECRET_KEY": "sk_live_abc",
           "TWESTIVAL_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    done = subprocess.run([sys.executable, "-c", "from twestival.cli import main; main()",
                           "routes"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "live key" in done.stderr


def test_a_sandbox_without_a_webhook_secret_generates_one(database_url):
    app = make_app(database_url, PAYMENTS_SANDBOX="on", STRIPE_WEBHOOK_SECRET=None)
    try:
        assert app.config["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    finally:
        app.extensions["twestival.live"].stop()


def test_the_receipt_goes_to_the_outbox_once(app, client):
    url = start(client, amount="12.50")
    pay(client, url)
    pay(client, url)
    with app.app_context():
        [receipt] = db.session.scalars(select(GiftReceipt)).all()
        [mail] = db.session.scalars(select(OutboxMessage)).all()
        assert mail.to_addr == "ada@example.org"
        assert f"TW-{receipt.id:06d}" in mail.subject and "£12.50" in mail.body


def test_the_demo_turns_the_sandbox_on_and_can_take_a_gift(database_url, monkeypatch):
    monkeypatch.delenv("TWESTIVAL_PAYMENTS_SANDBOX", raising=False)
    app = make_app(database_url)
    try:
        assert app.config["PAYMENTS_SANDBOX"] == "off"
        result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--seed", "0"])
        assert result.exit_code == 0, result.output
        assert app.config["PAYMENTS_SANDBOX"] == "on"
        assert app.config["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
        page = app.test_client().get("/c/twestival-2026/london/donate").get_data(as_text=True)
        assert 'id="donate"' in page and "Test mode" in page
    finally:
        app.extensions["twestival.live"].stop()


def test_the_demo_keeps_the_sandbox_off_when_told(database_url, monkeypatch):
    monkeypatch.setenv("TWESTIVAL_PAYMENTS_SANDBOX", "off")
    app = make_app(database_url)
    try:
        result = app.test_cli_runner().invoke(args=["demo", "--no-serve", "--seed", "0"])
        assert result.exit_code == 0, result.output
        assert app.config["PAYMENTS_SANDBOX"] == "off"
    finally:
        app.extensions["twestival.live"].stop()
