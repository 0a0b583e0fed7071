"""Stripe's own OpenAPI examples (fixtures3.donation_subset.json) through their paths: the event
through the signed webhook, the charge, refund and dispute as the objects of the events that
carry them, the balance transaction through the fee fetch (a local server answering as
api.stripe.com)."""
from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from tests.payments import (FIXTURES, LocalProvider, board, checkout_event, payments_app,
                            post_stripe, reconcile_ok)
from twestival.extensions import db
from twestival.ledger import EntryFee, EntryKind, LedgerEntry
from twestival.planning.scheduler import stripe_fees_job
from twestival.streams.inbox.archive import InboundPayload

RESOURCES = json.loads((FIXTURES / "stripe/fixtures3.donation_subset.json").read_text())[
    "resources"]
TRANSACTION = RESOURCES["balance_transaction"]  # 1.00 USD, fee 0


@pytest.fixture
def stripe_api():
    with LocalProvider({("GET", f"/v1/balance_transactions/{TRANSACTION['id']}"):
                        lambda r: (200, TRANSACTION)}) as server:
        yield server


@pytest.fixture
def app(db_path, stripe_api):
    yield from payments_app(db_path, STRIPE_API_BASE=stripe_api.base)


def event(kind: str, obj: dict, event_id: str) -> dict:
    """Stripe's example event (fixtures3) carrying ``obj`` as a ``kind`` event."""
    wrapped = copy.deepcopy(RESOURCES["event"])
    wrapped.update(id=event_id, type=kind)
    wrapped["data"] = {"object": obj}
    return wrapped


def test_the_example_event_is_verified_archived_and_ignored(app, client, seed):
    body = json.dumps(RESOURCES["event"], indent=2).encode()
    assert RESOURCES["event"]["type"] == "plan.created"
    response = post_stripe(client, body)
    assert response.status_code == 200
    with app.app_context():
        [payload] = db.session.scalars(select(InboundPayload)).all()
        assert (payload.body, payload.status) == (body, "ignored")
        assert db.session.scalars(select(LedgerEntry)).all() == []
        db.session.rollback()


def test_the_example_charge_refund_dispute_and_fee_land(app, client, seed, runner, stripe_api):
    """The example charge (1.00 USD, naming its balance transaction) of a 1.00 USD donation;
    its fee (0 USD) fetched; the example refund (1.00 USD) takes it back; the example dispute
    (an inquiry, warning_needs_response) moves nothing."""
    charge = copy.deepcopy(RESOURCES["charge"])
    intent = RESOURCES["payment_intent"]["id"]
    charge["payment_intent"] = intent  # the example leaves it out; a Checkout charge has it
    assert (charge["amount"], charge["currency"], charge["balance_transaction"]) == (
        100, "usd", TRANSACTION["id"])
    post_stripe(client, checkout_event("cs_example", intent, 100, "usd"))
    assert post_stripe(client, event("charge.succeeded", charge, "evt_ex_charge")).status_code \
        == 200
    assert stripe_fees_job(app) == 1
    refund = copy.deepcopy(RESOURCES["refund"])
    assert (refund["charge"], refund["amount"], refund["status"]) == (
        charge["id"], 100, "succeeded")
    assert post_stripe(client, event("refund.created", refund, "evt_ex_refund")).status_code \
        == 200
    dispute = copy.deepcopy(RESOURCES["dispute"])
    assert dispute["status"] == "warning_needs_response"
    assert post_stripe(client, event("charge.dispute.created", dispute,
                                     "evt_ex_dispute")).status_code == 200
    with app.app_context():
        rows = db.session.execute(select(LedgerEntry.kind, LedgerEntry.amount_minor,
                                         LedgerEntry.currency).order_by(LedgerEntry.id)).all()
        fee = db.session.scalar(select(EntryFee))
        assert (fee.fee_minor, fee.currency, fee.source) == (0, "USD", TRANSACTION["id"])
        db.session.rollback()
    assert [tuple(r) for r in rows] == [(EntryKind.donation, 100, "USD"),
                                       (EntryKind.refund, -100, "USD")]
    assert board(client)["by_city"]["london"]["raised_minor"] == 0
    reconcile_ok(runner)


# --- dj-stripe's linked objects: a charge, its fee, a dispute withdrawn then reinstated --------

OBJECTS = FIXTURES / "stripe/objects"


def obj(name: str) -> dict:
    return json.loads((OBJECTS / f"{name}.json").read_text())


def test_dj_stripe_charge_fee_and_dispute_land(app, client, seed, runner, stripe_api):
    """dj-stripe's PaymentIntent (20.00 USD), its charge naming balance transaction txn_fake...
    (fee 0.88 USD), then its dispute withdrawn (10.00 USD, fee 15.00 USD) and reinstated."""
    intent, charge = obj("payment_intent_pi_fakefakefakefakefake0001"), \
        obj("charge_ch_fakefakefakefakefake0001")
    transaction = obj("balance_transaction_txn_fake_ch_fakefakefakefakefake0001")
    stripe_api.routes[("GET", f"/v1/balance_transactions/{transaction['id']}")] = \
        lambda r: (200, transaction)
    assert (intent["amount"], charge["payment_intent"]) == (2000, intent["id"])
    post_stripe(client, checkout_event("cs_dj", intent["id"], intent["amount"],
                                       intent["currency"]))
    assert post_stripe(client, event("charge.succeeded", charge, "evt_dj_charge")).status_code \
        == 200
    assert stripe_fees_job(app) == 1
    withdrawn, reinstated = obj("dispute_dp_fakefakefakefake01"), \
        obj("dispute_dp_funds_reinstated_full")
    # dj-stripe's disputes name the charge but another PaymentIntent (pi_1JAy...), which Stripe
    # never would; as they are, they wait (parked) for a PaymentIntent that never comes.
    assert withdrawn["charge"] == charge["id"] and withdrawn["payment_intent"] != intent["id"]
    parked = post_stripe(client, event("charge.dispute.funds_withdrawn", withdrawn,
                                       "evt_dj_as_is"))
    assert parked.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(InboundPayload.status).where(
            InboundPayload.external_id == "evt_dj_as_is")) == "parked"
        db.session.rollback()
    for dispute in (withdrawn, reinstated):
        dispute["payment_intent"] = intent["id"]
    for kind, dispute in (("charge.dispute.funds_withdrawn", withdrawn),
                          ("charge.dispute.funds_reinstated", reinstated)):
        response = post_stripe(client, event(kind, dispute, f"evt_dj_{kind}"))
        assert response.status_code == 200, response.get_json()
    with app.app_context():
        rows = db.session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount_minor, LedgerEntry.currency,
                   LedgerEntry.fee_minor, EntryFee.fee_minor)
            .outerjoin(EntryFee, EntryFee.entry_id == LedgerEntry.id)
            .order_by(LedgerEntry.id)).all()
        db.session.rollback()
    assert [tuple(r) for r in rows] == [
        (EntryKind.donation, 2000, "USD", None, 88),
        (EntryKind.chargeback, -1000, "USD", 1500, None),  # the fee written with the entry
        (EntryKind.reversal, 1000, "USD", None, -1500)]  # the dispute fee given back
    with app.app_context():
        from twestival.campaigns.service import get_campaign
        from twestival.ledger.statement import statement
        usd = [r for r in statement(db.session, get_campaign(db.session, "tw"))
               if r.currency == "USD"]
        db.session.rollback()
    assert [(r.net, r.fees) for r in usd] == [(2000, 88)]  # a won dispute costs nothing
    reconcile_ok(runner)
