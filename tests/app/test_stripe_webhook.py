"""POST /webhooks/stripe with Stripe's own event samples, signed as Stripe signs them."""
from __future__ import annotations

import json
import sqlite3
import time

import pytest
from sqlalchemy import select

from tests.helpers import wait_for
from tests.payments import (FIXTURES, WEBHOOK_SECRET, board, checkout_event, payments_app,
                            post_stripe, reconcile_ok, stripe_sample, stripe_signature)
from twestival.extensions import db
from twestival.ledger import EntryKind, LedgerEntry
from twestival.streams.inbox.archive import InboundPayload
from twestival.streams.inbox import registry
from twestival.streams.stripe.events import StripeCheckout

SAMPLES = sorted(p.stem for p in (FIXTURES / "stripe").glob("*.json") if p.stem.count(".") >= 1
                 and not p.stem.startswith("fixtures3"))


@pytest.fixture
def app(db_path):
    yield from payments_app(db_path)


def entries(app, **where):
    with app.app_context():
        query = select(LedgerEntry).where(*(getattr(LedgerEntry, k) == v for k, v in where.items()))
        rows = db.session.scalars(query.order_by(LedgerEntry.id)).all()
        db.session.expunge_all()
        db.session.rollback()
        return rows


def payloads(app):
    with app.app_context():
        rows = db.session.scalars(select(InboundPayload).order_by(InboundPayload.id)).all()
        db.session.expunge_all()
        db.session.rollback()
        return rows


# --- every sample -----------------------------------------------------------------------

EXPECTED_STATUS = {
    # Samples carry no metadata.campaign: kept, marked, answered 200.
    "checkout.session.completed": "unknown_campaign",
    "checkout.session.completed.payment_mode": "unknown_campaign",
    # Refunds and withdrawn disputes of a charge we never saw wait for it.
    "charge.refunded": "parked",
    "charge.refund.updated": "parked",
    "charge.dispute.funds_withdrawn": "parked",
    "charge.dispute.funds_reinstated": "parked",
    "charge.dispute.closed": "parked",
    # An inquiry (warning_needs_response) and an under_review update without its donation.
    "charge.dispute.created": "processed",
    "charge.dispute.updated": "parked",
    "charge.succeeded": "processed",
    "charge.captured": "processed",
    "charge.updated": "processed",
}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_stripe_sample_is_verified_archived_and_answered(app, client, seed, name):
    body = (FIXTURES / "stripe" / f"{name}.json").read_bytes()  # byte for byte
    response = post_stripe(client, body)
    assert response.status_code == 200, response.get_json()
    [payload] = payloads(app)
    assert payload.body == body
    assert payload.headers["Stripe-Signature"].startswith("t=")
    assert payload.external_id == json.loads(body)["id"]
    assert payload.status == EXPECTED_STATUS.get(name, "ignored")
    assert entries(app) == []  # nothing of ours: no campaign in the samples
    assert board(client)["total_raised_minor"] == 0


def test_checkout_samples_land_with_their_amounts(app, client, seed, runner):
    paid = stripe_sample("checkout.session.completed")  # 30.00 USD
    paid["data"]["object"]["metadata"] = {"campaign": "tw", "city": "london"}
    paid["data"]["object"]["currency"] = "gbp"
    second = stripe_sample("checkout.session.completed.payment_mode")  # 250.00 USD
    second["data"]["object"]["metadata"] = {"campaign": "tw", "city": "berlin"}
    assert post_stripe(client, paid).status_code == 200
    assert post_stripe(client, second).status_code == 200

    london, berlin = entries(app)
    assert (london.amount_minor, london.currency, london.kind) == (3000, "GBP", EntryKind.donation)
    assert london.external_id == "checkout:" + paid["data"]["object"]["id"]
    assert (berlin.amount_minor, berlin.currency) == (25000, "USD")
    assert berlin.fx_rate and berlin.city_minor > 0  # converted to EUR with a recorded rate
    rows = board(client)["by_city"]
    assert rows["london"]["raised_minor"] == 3000 and rows["london"]["donations"] == 1
    assert rows["berlin"]["raised_minor"] == berlin.city_minor
    reconcile_ok(runner)


def test_zero_decimal_and_isk_amounts_go_through_the_money_module(app, client, seed):
    assert post_stripe(client, checkout_event("cs_jpy", "pi_jpy", 5000, "jpy", city="tokyo")).status_code == 200
    assert board(client)["by_city"]["tokyo"]["raised_minor"] == 5000  # ¥5000, not ¥50
    # ISK is zero-decimal in ISO 4217 but two-decimal in Stripe's API: 50000 is 500 kr.
    assert post_stripe(client, checkout_event("cs_isk", "pi_isk", 50000, "isk", city=None)).status_code == 200
    [isk] = entries(app, currency="ISK")
    assert isk.amount_minor == 500 and isk.city_id is None
    # Fractional krónur cannot be exact: refused, archived as rejected, nothing counted.
    response = post_stripe(client, checkout_event("cs_isk2", "pi_isk2", 50050, "isk"))
    assert response.status_code == 422 and "ISK" in response.get_json()["error"]
    assert payloads(app)[-1].status == "rejected"
    assert len(entries(app, currency="ISK")) == 1


def test_unknown_city_goes_to_the_unassigned_queue(app, client, seed, runner):
    response = post_stripe(client, checkout_event("cs_nowhere", "pi_nowhere", 1500, city="atlantis"))
    assert response.status_code == 200
    [entry] = entries(app)
    assert entry.city_id is None and entry.amount_minor == 1500
    data = board(client)
    assert data["unassigned_reporting_minor"] == 1500
    assert data["total_raised_minor"] == 1500
    reconcile_ok(runner)


def test_unknown_campaign_is_archived_marked_and_answered_200(app, client, seed):
    response = post_stripe(client, checkout_event("cs_x", "pi_x", 1500, campaign="nope"))
    assert response.status_code == 200
    assert response.get_json()["status"] == "unknown_campaign"
    [payload] = payloads(app)
    assert payload.status == "unknown_campaign" and "nope" in payload.error
    assert entries(app) == []


def test_a_gift_to_a_campaign_created_later_lands_on_replay(app, client, seed, runner):
    post_stripe(client, checkout_event("cs_early", "pi_early", 1500, campaign="spring"))
    post_stripe(client, checkout_event("cs_other", "pi_other", 700, campaign="elsewhere"))
    assert runner.invoke(args=["campaign", "create", "spring", "--name", "Spring",
                               "--currency", "GBP"]).exit_code == 0
    assert runner.invoke(args=["city", "add", "spring", "london", "--name", "London",
                               "--country", "GB", "--currency", "GBP", "--timezone",
                               "Europe/London", "--target", "100.00"]).exit_code == 0

    result = runner.invoke(args=["replay", "spring", "--stream", "stripe"])
    assert result.exit_code == 0, result.output
    assert "payloads replayed: 1" in result.output and "new ledger entries: 1" in result.output
    [entry] = entries(app)
    assert entry.amount_minor == 1500 and entry.city_id is not None
    assert board(client, "spring")["total_raised_minor"] == 1500
    # now placed: the payload belongs to the campaign; a second replay counts nothing again
    again = runner.invoke(args=["replay", "spring"])
    assert "new ledger entries: 0" in again.output
    assert [p.status for p in payloads(app)] == ["processed", "unknown_campaign"]
    reconcile_ok(runner, "spring")


def test_donor_name_and_message_come_from_metadata(app, client, seed):
    post_stripe(client, checkout_event("cs_n", "pi_n", 2000, donor_name="Ada", message="Go London!"))
    post_stripe(client, checkout_event("cs_a", "pi_a", 2000))
    named, anonymous = entries(app)
    assert (named.donor_name, named.message, named.anonymous) == ("Ada", "Go London!", False)
    assert anonymous.anonymous and anonymous.donor_name is None


# --- signatures -------------------------------------------------------------------------

def _body():
    return json.dumps(checkout_event("cs_sig", "pi_sig", 1000)).encode()


def _post(client, body, header):
    return client.post("/webhooks/stripe", data=body, content_type="application/json",
                       headers={"Stripe-Signature": header} if header is not None else {})


def test_a_correct_signature_is_accepted(app, client, seed):
    body = _body()
    assert _post(client, body, stripe_signature(body)).status_code == 200
    assert board(client)["by_city"]["london"]["raised_minor"] == 1000


@pytest.mark.parametrize("case", ["stale", "tampered", "wrong_secret", "missing", "garbage",
                                  "no_v1", "a_week_ahead", "just_too_far_ahead"])
def test_bad_signatures_answer_400_and_write_nothing(app, client, seed, case):
    body = _body()
    header = {
        "stale": stripe_signature(body, timestamp=int(time.time()) - 301),
        # The SDK checks only the past: a signature made to live on must not.
        "a_week_ahead": stripe_signature(body, timestamp=int(time.time()) + 7 * 86400),
        "just_too_far_ahead": stripe_signature(body, timestamp=int(time.time()) + 330),
        "tampered": stripe_signature(body),
        "wrong_secret": stripe_signature(body, secret="whsec_someone_else"),
        "missing": None,
        "garbage": "not a signature",
        "no_v1": f"t={int(time.time())},v0=abc",
    }[case]
    if case == "tampered":
        body = body.replace(b'"amount_total": 1000', b'"amount_total": 9000')
        assert b"9000" in body
    response = _post(client, body, header)
    assert response.status_code == 400
    assert "error" in response.get_json()
    assert payloads(app) == [] and entries(app) == []


def test_within_tolerance_is_accepted(app, client, seed):
    body = _body()
    assert _post(client, body, stripe_signature(body, timestamp=int(time.time()) - 250)).status_code == 200


def test_a_clock_a_little_ahead_is_within_tolerance(app, client, seed):
    """Stripe's clock may run ahead of ours by less than the tolerance."""
    body = _body()
    assert _post(client, body, stripe_signature(body, timestamp=int(time.time()) + 250)).status_code == 200
    assert board(client)["by_city"]["london"]["raised_minor"] == 1000


def test_two_v1_signatures_during_secret_rotation(app, client, seed):
    """While a secret is rolled Stripe signs with both: either of ours must be accepted."""
    body = _body()
    old_and_ours = stripe_signature(body, secret="whsec_the_old_one", extra_secrets=(WEBHOOK_SECRET,))
    assert _post(client, body, old_and_ours).status_code == 200
    body2 = json.dumps(checkout_event("cs_sig2", "pi_sig2", 1000)).encode()
    neither = stripe_signature(body2, secret="whsec_a", extra_secrets=("whsec_b",))
    assert _post(client, body2, neither).status_code == 400
    assert len(entries(app)) == 1


def test_an_oversized_body_is_refused_unread(app, client, seed):
    body = b'{"id": "evt_big", "padding": "' + b"x" * (512 * 1024) + b'"}'
    response = client.post("/webhooks/stripe", data=body, content_type="application/json",
                           headers={"Stripe-Signature": stripe_signature(body)})
    assert response.status_code == 413
    assert payloads(app) == []


def test_stream_off_answers_404(db_path, seed):
    app = next(payments_app(db_path, STRIPE_WEBHOOK_SECRET=None))
    response = post_stripe(app.test_client(), checkout_event("cs", "pi", 100))
    assert response.status_code == 404 and "not configured" in response.get_json()["error"]
    app.extensions["twestival.live"].stop()


# --- asynchronous payments ------------------------------------------------------------------

def test_unpaid_checkout_is_pending_until_async_payment_succeeds(app, client, seed, runner):
    post_stripe(client, checkout_event("cs_sepa", "pi_sepa", 4000, payment_status="unpaid"))
    assert board(client)["by_city"]["london"]["raised_minor"] == 0
    with app.app_context():
        assert db.session.scalar(select(StripeCheckout.status)) == "pending"
    post_stripe(client, checkout_event("cs_sepa", "pi_sepa", 4000,
                                       kind="checkout.session.async_payment_succeeded"))
    assert board(client)["by_city"]["london"]["raised_minor"] == 4000
    # Redelivered completed(unpaid) after success changes nothing.
    post_stripe(client, checkout_event("cs_sepa", "pi_sepa", 4000, payment_status="unpaid",
                                       event_id="evt_again"))
    assert board(client)["by_city"]["london"]["raised_minor"] == 4000
    with app.app_context():
        assert db.session.scalar(select(StripeCheckout.status)) == "paid"
    reconcile_ok(runner)


def test_async_payment_failed_clears_the_pending_record(app, client, seed):
    post_stripe(client, checkout_event("cs_f", "pi_f", 4000, payment_status="unpaid"))
    post_stripe(client, checkout_event("cs_f", "pi_f", 4000, payment_status="unpaid",
                                       kind="checkout.session.async_payment_failed"))
    # ... and in the other order the failure still wins over the late "completed (unpaid)".
    post_stripe(client, checkout_event("cs_g", "pi_g", 4000, payment_status="unpaid",
                                       kind="checkout.session.async_payment_failed"))
    post_stripe(client, checkout_event("cs_g", "pi_g", 4000, payment_status="unpaid"))
    with app.app_context():
        assert set(db.session.scalars(select(StripeCheckout.status))) == {"failed"}
    assert entries(app) == []
    assert board(client)["total_raised_minor"] == 0


# --- duplicates, replays, transient failures, live updates -----------------------------------

def test_duplicate_delivery_counts_once(app, client, seed, runner):
    event = checkout_event("cs_dup", "pi_dup", 2500)
    for _ in range(3):
        assert post_stripe(client, event).status_code == 200
    # The same session in a different event (Stripe's own retry gets a new event id sometimes).
    event["id"] = "evt_other"
    assert post_stripe(client, event).status_code == 200
    assert [p.status for p in payloads(app)] == ["processed", "duplicate", "duplicate", "processed"]
    assert board(client)["by_city"]["london"]["raised_minor"] == 2500
    assert board(client)["by_city"]["london"]["donations"] == 1
    reconcile_ok(runner)


def test_replaying_every_archived_payload_changes_nothing(app, client, seed, runner):
    from tests.payments import dispute_event, refund_event
    post_stripe(client, refund_event("ch_r", "pi_r", [("re_1", 500)], amount=3000))
    post_stripe(client, checkout_event("cs_r", "pi_r", 3000))
    post_stripe(client, dispute_event("dispute.funds_withdrawn", "ch_q", "pi_q", 1000,
                                      status="needs_response"))
    post_stripe(client, checkout_event("cs_q", "pi_q", 1000))
    before = board(client)
    assert before["by_city"]["london"]["raised_minor"] == 3000 - 500 + 1000 - 1000
    with app.app_context():
        for payload in db.session.scalars(select(InboundPayload).order_by(InboundPayload.id)):
            registry.get("stripe").process(db.session, payload)
        db.session.commit()
    after = board(client)
    assert after["by_city"] == before["by_city"]
    assert len(entries(app)) == 4
    reconcile_ok(runner)


def test_database_locked_answers_503_and_the_retry_counts_once(db_path, seed):
    app = next(payments_app(db_path, SQLITE_BUSY_TIMEOUT_MS=100))
    client, runner = app.test_client(), app.test_cli_runner()
    event = checkout_event("cs_busy", "pi_busy", 1200)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        response = post_stripe(client, event)
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert "busy" in response.get_json()["error"]
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert post_stripe(client, event).status_code == 200  # Stripe's retry
    assert post_stripe(client, event).status_code == 200  # and one more for luck
    assert board(client)["by_city"]["london"]["raised_minor"] == 1200
    assert len(entries(app)) == 1
    reconcile_ok(runner)
    app.extensions["twestival.live"].stop()


def test_live_board_hears_a_stripe_donation(app, client, seed, live):
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    wait_for(live, "leaderboard")
    assert post_stripe(client, checkout_event("cs_live", "pi_live", 4200)).status_code == 200
    update, _ = wait_for(live, "leaderboard_update",
                         lambda m: any(r["slug"] == "london" and r["raised_minor"] == 4200
                                       for r in m["cities"]))
    assert update["campaign"] == "tw"


def test_webhook_handling_time_is_on_metrics(app, client, seed):
    def count(outcome):
        text = client.get("/metrics").get_data(as_text=True)
        line = [l for l in text.splitlines() if l.startswith("twestival_webhook_seconds_count")
                and 'stream="stripe"' in l and f'outcome="{outcome}"' in l]
        return float(line[0].rsplit(" ", 1)[1]) if line else 0.0
    before = count("ok")
    body = (FIXTURES / "stripe" / "charge.succeeded.json").read_bytes()
    assert post_stripe(client, body).status_code == 200
    assert count("ok") == before + 1
