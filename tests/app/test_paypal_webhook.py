"""POST /webhooks/paypal end to end: events signed with a throwaway CA's certificate, served
from a local stand-in for PayPal's certificate URL (allowed by configuration, not by a mock)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.payments import (LocalProvider, ThrowawayCA, board, paypal_headers, payments_app,
                            reconcile_ok)
from twestival.extensions import db
from twestival.ledger import EntryKind, LedgerEntry
from twestival.streams.inbox.archive import InboundPayload
from twestival.streams.inbox import registry

WEBHOOK_ID = "8PT597110X687430LKGECATA"
CERT_PATH = "/v1/notifications/certs/CERT-360caa42-fca2a594-test"


@pytest.fixture
def paypal_env(tmp_path):
    ca = ThrowawayCA(tmp_path)
    with LocalProvider({("GET", CERT_PATH): lambda _r: (200, ca.cert_pem)}) as server:
        yield ca, server


def paypal_config(ca, server, **overrides):
    return {"PAYPAL_CLIENT_ID": "client-id", "PAYPAL_CLIENT_SECRET": "client-secret",
            "PAYPAL_WEBHOOK_ID": WEBHOOK_ID, "PAYPAL_API_BASE": server.base,
            "PAYPAL_CERT_ORIGINS": [server.base], "PAYPAL_CA_FILE": str(ca.ca_file), **overrides}


@pytest.fixture
def app(db_path, paypal_env):
    yield from payments_app(db_path, **paypal_config(*paypal_env))


@pytest.fixture
def send(client, paypal_env):
    ca, server = paypal_env

    def send(event, body=None, headers=None):
        body = body if body is not None else json.dumps(event).encode()
        headers = headers or paypal_headers(ca, body, WEBHOOK_ID, server.base + CERT_PATH)
        return client.post("/webhooks/paypal", data=body, content_type="application/json",
                           headers=headers)
    return send


def _links(kind, ident, up):
    base = "https://api.sandbox.paypal.com"
    return [{"href": f"{base}/v2/payments/{kind}/{ident}", "rel": "self", "method": "GET"},
            {"href": f"{base}{up}", "rel": "up", "method": "GET"}]


def capture_event(kind, capture_id, value="25.00", currency="GBP", custom_id="tw/london",
                  fee="1.20", event_id=None):
    """Shaped like PayPal's documented PAYMENT.CAPTURE.* samples (Orders v2 captures)."""
    status = kind.rsplit(".", 1)[1]
    resource = {
        "id": capture_id, "status": status, "amount": {"currency_code": currency, "value": value},
        "final_capture": True,
        "seller_protection": {"status": "ELIGIBLE",
                              "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
        "custom_id": custom_id,
        "supplementary_data": {"related_ids": {"order_id": f"ORDER{capture_id}"}},
        "links": _links("captures", capture_id, f"/v2/checkout/orders/ORDER{capture_id}"),
        "create_time": "2026-11-23T19:30:04Z", "update_time": "2026-11-23T19:30:04Z",
    }
    if status == "PENDING":
        resource["status_details"] = {"reason": "PENDING_REVIEW"}
    else:
        resource["seller_receivable_breakdown"] = {
            "gross_amount": {"currency_code": currency, "value": value},
            "paypal_fee": {"currency_code": currency, "value": fee},
            "net_amount": {"currency_code": currency, "value": "0.00"}}
    return {"id": event_id or f"WH-{kind}-{capture_id}", "event_version": "1.0",
            "create_time": "2026-11-23T19:30:10.000Z", "resource_type": "capture",
            "resource_version": "2.0", "event_type": kind,
            "summary": f"Payment {status.lower()} for {value} {currency}", "resource": resource}


def refund_event(kind, refund_id, capture_id, value, currency="GBP", event_id=None):
    resource = {
        "id": refund_id, "status": "COMPLETED", "amount": {"currency_code": currency, "value": value},
        "seller_payable_breakdown": {"gross_amount": {"currency_code": currency, "value": value},
                                     "paypal_fee": {"currency_code": currency, "value": "0.00"},
                                     "net_amount": {"currency_code": currency, "value": value}},
        "links": _links("refunds", refund_id, f"/v2/payments/captures/{capture_id}"),
        "create_time": "2026-11-24T10:00:00Z", "update_time": "2026-11-24T10:00:00Z",
    }
    return {"id": event_id or f"WH-{kind}-{refund_id}", "event_version": "1.0",
            "create_time": "2026-11-24T10:00:01.000Z", "resource_type": "refund",
            "resource_version": "2.0", "event_type": kind, "summary": "refunded",
            "resource": resource}


def entries(app):
    with app.app_context():
        rows = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        db.session.expunge_all()
        db.session.rollback()
        return rows


def statuses(app):
    with app.app_context():
        rows = list(db.session.scalars(select(InboundPayload.status).order_by(InboundPayload.id)))
        db.session.rollback()
        return rows


def london(client):
    return board(client)["by_city"]["london"]["raised_minor"]


def test_completed_capture_is_a_donation_with_its_fee(app, client, seed, send, runner):
    response = send(capture_event("PAYMENT.CAPTURE.COMPLETED", "7TK53561YB803214S"))
    assert response.status_code == 200, response.get_json()
    [entry] = entries(app)
    assert (entry.amount_minor, entry.currency, entry.fee_minor) == (2500, "GBP", 120)
    assert entry.external_id == "capture:7TK53561YB803214S"
    assert london(client) == 2500
    reconcile_ok(runner)


def test_zero_decimal_currency(app, client, seed, send):
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "JPY1", value="3000", currency="JPY",
                       custom_id="tw/tokyo", fee="140"))
    [entry] = entries(app)
    assert (entry.amount_minor, entry.fee_minor) == (3000, 140)
    assert board(client)["by_city"]["tokyo"]["raised_minor"] == 3000


def test_pending_is_not_counted_until_completed(app, client, seed, send):
    send(capture_event("PAYMENT.CAPTURE.PENDING", "CAP2"))
    assert london(client) == 0 and entries(app) == []
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP2"))
    send(capture_event("PAYMENT.CAPTURE.PENDING", "CAP2", event_id="WH-late-pending"))
    assert london(client) == 2500
    assert len(entries(app)) == 1


def test_denied_clears_a_pending_capture(app, client, seed, send):
    send(capture_event("PAYMENT.CAPTURE.PENDING", "CAP3"))
    send(capture_event("PAYMENT.CAPTURE.DENIED", "CAP3"))
    assert london(client) == 0 and entries(app) == []


@pytest.mark.parametrize("order", [("COMPLETED", "DENIED"), ("DENIED", "COMPLETED")])
def test_denied_after_it_was_counted_reverses_it_in_either_order(app, client, seed, send, runner, order):
    for status in order:
        send(capture_event(f"PAYMENT.CAPTURE.{status}", "CAP4"))
    assert london(client) == 0
    assert [e.kind for e in entries(app)] == [EntryKind.donation, EntryKind.reversal]
    reconcile_ok(runner)


@pytest.mark.parametrize("refund_first", [False, True])
def test_refunds_are_linked_negative_entries_in_any_order(app, client, seed, send, runner,
                                                          refund_first):
    capture = capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP5")
    refunds = [refund_event("PAYMENT.CAPTURE.REFUNDED", "1JU08902781691411", "CAP5", "5.00"),
               refund_event("PAYMENT.CAPTURE.REFUNDED", "2JU08902781691412", "CAP5", "20.00")]
    events = refunds + [capture] if refund_first else [capture] + refunds
    for event in events + events:  # and every one delivered twice
        assert send(event).status_code == 200
    assert london(client) == 0
    donation, *rest = entries(app)
    assert sorted((e.kind, e.amount_minor, e.reverses_id) for e in rest) == [
        (EntryKind.refund, -2000, donation.id), (EntryKind.refund, -500, donation.id)]
    reconcile_ok(runner)


def test_reversal_is_one_chargeback(app, client, seed, send, runner):
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP6"))
    reversal = refund_event("PAYMENT.CAPTURE.REVERSED", "9RV3456", "CAP6", "-25.00")
    send(reversal)
    send(dict(reversal, id="WH-redelivered"))
    donation, chargeback = entries(app)
    assert (chargeback.kind, chargeback.amount_minor, chargeback.reverses_id) == (
        EntryKind.chargeback, -2500, donation.id)
    assert london(client) == 0
    reconcile_ok(runner)


def test_unknown_city_goes_unassigned_and_unknown_campaign_is_kept(app, client, seed, send):
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP7", custom_id="tw/atlantis"))
    response = send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP8", custom_id="nope/london"))
    assert response.status_code == 200
    assert statuses(app) == ["processed", "unknown_campaign"]
    [entry] = entries(app)
    assert entry.city_id is None
    assert board(client)["unassigned_reporting_minor"] == 2500


def test_a_capture_for_a_campaign_created_later_lands_on_replay(app, client, seed, send, runner):
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP21", custom_id="spring/london"))
    assert entries(app) == []
    assert runner.invoke(args=["campaign", "create", "spring", "--name", "Spring",
                               "--currency", "GBP"]).exit_code == 0
    result = runner.invoke(args=["replay", "spring"])
    assert result.exit_code == 0, result.output
    assert "new ledger entries: 1" in result.output
    [entry] = entries(app)
    assert entry.amount_minor == 2500 and entry.city_id is None  # no city yet: unassigned
    assert board(client, "spring")["unassigned_reporting_minor"] == 2500


def test_bad_signatures_answer_400_and_store_nothing(app, client, seed, send, paypal_env):
    ca, server = paypal_env
    event = capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP9")
    body = json.dumps(event).encode()
    good = paypal_headers(ca, body, WEBHOOK_ID, server.base + CERT_PATH)
    tampered = body.replace(b"25.00", b"95.00")
    assert send(event, body=tampered, headers=good).status_code == 400
    other_hook = paypal_headers(ca, body, "ANOTHER-WEBHOOK", server.base + CERT_PATH)
    assert send(event, headers=other_hook).status_code == 400
    elsewhere = dict(good, **{"PAYPAL-CERT-URL": "https://evil.example/cert.pem"})
    response = send(event, headers=elsewhere)
    assert response.status_code == 400 and "PayPal's hosts" in response.get_json()["error"]
    assert statuses(app) == [] and entries(app) == []
    assert send(event, headers=good).status_code == 200  # the genuine one still lands


def test_certificate_host_down_answers_503(db_path, seed, paypal_env):
    ca, server = paypal_env
    with LocalProvider({}) as down:
        base = down.base
    app = next(payments_app(db_path, **paypal_config(ca, server, PAYPAL_CERT_ORIGINS=[base])))
    body = json.dumps(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP10")).encode()
    response = app.test_client().post(
        "/webhooks/paypal", data=body, content_type="application/json",
        headers=paypal_headers(ca, body, WEBHOOK_ID, base + CERT_PATH))
    assert response.status_code == 503
    app.extensions["twestival.live"].stop()


def test_stream_off_answers_404(db_path, seed):
    app = next(payments_app(db_path))
    response = app.test_client().post("/webhooks/paypal", json={})
    assert response.status_code == 404
    app.extensions["twestival.live"].stop()


def test_online_verification_end_to_end(db_path, seed, paypal_env):
    ca, server = paypal_env
    server.routes[("POST", "/v1/oauth2/token")] = lambda _r: (
        200, {"access_token": "A21-online", "expires_in": 3600})
    server.routes[("POST", "/v1/notifications/verify-webhook-signature")] = lambda r: (
        200, {"verification_status": "SUCCESS" if json.loads(r["body"])["transmission_sig"] == "good"
              else "FAILURE"})
    app = next(payments_app(db_path, **paypal_config(ca, server, PAYPAL_VERIFY="online")))
    client = app.test_client()
    body = json.dumps(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP11")).encode()
    headers = paypal_headers(ca, body, WEBHOOK_ID, server.base + CERT_PATH)
    bad = client.post("/webhooks/paypal", data=body, content_type="application/json", headers=headers)
    assert bad.status_code == 400
    headers["PAYPAL-TRANSMISSION-SIG"] = "good"
    ok = client.post("/webhooks/paypal", data=body, content_type="application/json", headers=headers)
    assert ok.status_code == 200
    assert board(client)["by_city"]["london"]["raised_minor"] == 2500
    app.extensions["twestival.live"].stop()


def test_replay_changes_nothing(app, client, seed, send, runner):
    send(refund_event("PAYMENT.CAPTURE.REFUNDED", "R1", "CAP12", "5.00"))
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP12"))
    send(capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP13"))
    before = board(client)["by_city"]
    with app.app_context():
        for payload in db.session.scalars(select(InboundPayload).order_by(InboundPayload.id)):
            registry.get("paypal").process(db.session, payload)
        db.session.commit()
    assert board(client)["by_city"] == before
    assert before["london"]["raised_minor"] == 2500 - 500 + 2500
    reconcile_ok(runner)


def test_capture_counted_on_return_is_not_counted_again_by_its_webhook(app, client, seed, send,
                                                                       runner):
    from twestival.streams.paypal import events as paypal
    event = capture_event("PAYMENT.CAPTURE.COMPLETED", "CAP14")
    order = {"id": "ORDERCAP14", "status": "COMPLETED", "purchase_units": [
        {"reference_id": "default", "payments": {"captures": [event["resource"]]}}]}
    with app.app_context():
        paypal.receive_order_capture(db.session, order)
    assert send(event).status_code == 200
    assert [e.external_id for e in entries(app)] == ["capture:CAP14"]
    assert london(client) == 2500
    reconcile_ok(runner)
