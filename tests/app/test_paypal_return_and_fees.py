"""PayPal gifts: the fee the donor chose to cover travels with the order (kept here, keyed on
PayPal's order id, before the donor is sent to approve it), and the donor gets one receipt
whether PayPal's PAYMENT.CAPTURE.COMPLETED webhook or the donor's return page comes first.
Orders are created and captured over real HTTP against a local stand-in for PayPal's API,
which also serves the certificate the webhooks are signed with."""
from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from tests.app.test_donate_checkout import CAPTURED_ORDER, ORDER_ID, form
from tests.app.test_paypal_webhook import CERT_PATH, WEBHOOK_ID, capture_event
from tests.payments import LocalProvider, ThrowawayCA, paypal_headers, payments_app, reconcile_ok
from twestival.extensions import db
from twestival.giving import amounts
from twestival.ledger import LedgerEntry
from twestival.mail import OutboxMessage
from twestival.money import Money

CAPTURE_ID = CAPTURED_ORDER["purchase_units"][0]["payments"]["captures"][0]["id"]


@pytest.fixture
def paypal(tmp_path):
    """PayPal's API on 127.0.0.1: the capture is of the amount the order was created with."""
    ca = ThrowawayCA(tmp_path)
    with LocalProvider({}) as server:
        created = {}

        def create(request):
            created.update(json.loads(request["body"]))
            return 201, {"id": ORDER_ID, "status": "PAYER_ACTION_REQUIRED", "links": [
                {"href": f"https://www.sandbox.paypal.com/checkoutnow?token={ORDER_ID}",
                 "rel": "payer-action", "method": "GET"}]}

        def capture(_request):
            order = copy.deepcopy(CAPTURED_ORDER)
            [unit] = created["purchase_units"]
            captured = order["purchase_units"][0]["payments"]["captures"][0]
            captured["amount"] = captured["seller_receivable_breakdown"]["gross_amount"] = \
                unit["amount"]
            captured["custom_id"] = unit["custom_id"]
            return 201, order

        server.routes.update({
            ("POST", "/v1/oauth2/token"): lambda _r: (200, {"access_token": "A21-t",
                                                             "expires_in": 32400}),
            ("POST", "/v2/checkout/orders"): create,
            ("POST", f"/v2/checkout/orders/{ORDER_ID}/capture"): capture,
            ("GET", CERT_PATH): lambda _r: (200, ca.cert_pem)})
        server.created, server.ca = created, ca
        yield server


@pytest.fixture
def app(database_url, paypal):
    yield from payments_app(
        database_url, PAYPAL_CLIENT_ID="client", PAYPAL_CLIENT_SECRET="secret",
        PAYPAL_WEBHOOK_ID=WEBHOOK_ID, PAYPAL_API_BASE=paypal.base,
        PAYPAL_CERT_ORIGINS=[paypal.base], PAYPAL_CA_FILE=str(paypal.ca.ca_file))


def give(client, amount="12.50", **data):
    fields = form(client)[1]
    response = client.post("/c/tw/london/donate",
                           data={**fields, "method": "paypal", "amount": amount, **data})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def webhook(client, paypal, event_id="WH-COMPLETED-1"):
    """PayPal's PAYMENT.CAPTURE.COMPLETED for the order's capture, signed as PayPal signs."""
    [unit] = paypal.created["purchase_units"]
    event = capture_event("PAYMENT.CAPTURE.COMPLETED", CAPTURE_ID, value=unit["amount"]["value"],
                          custom_id=unit["custom_id"], event_id=event_id)
    resource = event["resource"]
    resource["supplementary_data"]["related_ids"]["order_id"] = ORDER_ID
    resource["links"][1]["href"] = f"https://api.sandbox.paypal.com/v2/checkout/orders/{ORDER_ID}"
    body = json.dumps(event).encode()
    return client.post("/webhooks/paypal", data=body, content_type="application/json",
                       headers=paypal_headers(paypal.ca, body, WEBHOOK_ID, paypal.base + CERT_PATH))


def come_back(client):
    response = client.get(f"/c/tw/london/donate/paypal/return?token={ORDER_ID}",
                          headers={"Accept-Language": "de"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/c/tw/london/thanks")
    return client.get(response.headers["Location"])


def ledger(app):
    with app.app_context():
        rows = [(e.external_id, e.amount_minor, (e.meta or {}).get("fee_covered_minor"))
                for e in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
        db.session.rollback()
        return rows


def mails(app):
    with app.app_context():
        rows = [(m.to_addr, m.subject, m.body) for m in db.session.scalars(select(OutboxMessage))]
        db.session.rollback()
        return rows


def charged(minor=1250, rule="2.9% + 0.30"):
    return amounts.gross_up(Money(minor, "GBP"), amounts.fee_rule({"paypal": {"GBP": rule}},
                                                                  "paypal", "GBP")).minor


def test_the_form_offers_to_cover_paypals_fees_too(client, seed):
    page = form(client)[0]
    assert "(with PayPal: 2.9% + £0.30)" in page


def test_a_covered_paypal_fee_is_on_the_order_and_recorded_with_the_gift(app, client, seed,
                                                                          paypal, runner):
    give(client, cover_fees="on")
    total = charged()
    assert total > 1250
    [unit] = paypal.created["purchase_units"]
    assert unit["amount"] == {"currency_code": "GBP", "value": Money(total, "GBP").major_str()}
    come_back(client)
    assert ledger(app) == [(f"capture:{CAPTURE_ID}", total, total - 1250)]
    [(to, _subject, body)] = mails(app)
    assert to == "customer@example.com"
    assert "Zahlungsgebühren" in body
    assert Money(total - 1250, "GBP").major_str().replace(".", ",") in body
    statement = client.get("/api/v1/campaigns/tw/leaderboard").get_json()
    assert {r["slug"]: r["raised_minor"] for r in statement["cities"]}["london"] == total
    reconcile_ok(runner)


def test_without_the_tick_nothing_is_added(app, client, seed, paypal):
    give(client)
    assert paypal.created["purchase_units"][0]["amount"]["value"] == "12.50"
    come_back(client)
    assert ledger(app) == [(f"capture:{CAPTURE_ID}", 1250, None)]


@pytest.mark.parametrize("first", ["webhook", "return page"])
def test_one_receipt_whichever_arrives_first_across_redeliveries(app, client, seed, paypal,
                                                                 first, runner):
    give(client, cover_fees="on")
    total = charged()
    if first == "webhook":
        assert webhook(client, paypal).status_code == 200
        # Counted, with the covered fee, but PayPal's capture names no payer: no mail yet.
        assert ledger(app) == [(f"capture:{CAPTURE_ID}", total, total - 1250)]
        assert mails(app) == []
        thanks = come_back(client)
    else:
        thanks = come_back(client)
        assert webhook(client, paypal).status_code == 200
    assert thanks.status_code == 200
    # PayPal redelivers the same event, and sends it again under a new id; the donor reloads.
    assert webhook(client, paypal).status_code == 200
    assert webhook(client, paypal, event_id="WH-COMPLETED-again").status_code == 200
    come_back(client)
    assert ledger(app) == [(f"capture:{CAPTURE_ID}", total, total - 1250)]
    [(to, subject, body)] = mails(app)
    assert to == "customer@example.com"
    assert subject.startswith("Deine Quittung")   # the language the donor came back in
    assert Money(total - 1250, "GBP").major_str().replace(".", ",") in body
    reconcile_ok(runner)


def test_the_same_form_sent_twice_keeps_one_order(app, client, seed, paypal):
    from twestival.streams.paypal.orders import PaypalOrder
    fields = form(client)[1]
    for _ in range(2):   # a double click: PayPal answers the same request id with the same order
        assert client.post("/c/tw/london/donate", data={
            **fields, "method": "paypal", "amount": "12.50", "cover_fees": "on"}).status_code == 303
    with app.app_context():
        [order] = db.session.scalars(select(PaypalOrder)).all()
        assert (order.order_id, order.amount_minor, order.fee_covered_minor) == (
            ORDER_ID, charged(), charged() - 1250)
