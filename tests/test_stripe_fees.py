"""Stripe's fee on a card donation: named by the charge, told by its balance transaction
(fetched from Stripe's API, here a local server answering with a real BalanceTransaction)."""
from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import select

from tests.payments import (FIXTURES, LocalProvider, checkout_event, dispute_event, payments_app,
                            post_stripe, reconcile_ok, stripe_sample)
from twestival.extensions import db
from twestival.ledger import EntryFee, EntryKind, LedgerEntry
from twestival.planning.scheduler import stripe_fees_job
from twestival.streams.archive import InboundPayload

TRANSACTION = json.loads((FIXTURES / "stripe/objects/"
                          "balance_transaction_txn_fake_ch_fakefakefakefakefake0001.json").read_text())
TXN = TRANSACTION["id"]  # amount 2000, fee 88, usd


@pytest.fixture
def stripe_api():
    missing = {"error": {"code": "resource_missing", "param": "id", "type": "invalid_request_error",
                         "message": "No such balance_transaction: 'txn_unknown'"}}
    with LocalProvider({("GET", f"/v1/balance_transactions/{TXN}"): lambda r: (200, TRANSACTION),
                        ("GET", "/v1/balance_transactions/txn_unknown"): lambda r: (404, missing)},
                       ) as server:
        yield server


@pytest.fixture
def app(db_path, stripe_api):
    yield from payments_app(db_path, STRIPE_API_BASE=stripe_api.base)


def charge_succeeded(charge="ch_fee", intent="pi_fee", transaction: str | dict = TXN) -> dict:
    event = copy.deepcopy(stripe_sample("charge.succeeded"))
    event["id"] = f"evt_charge_{charge}_{type(transaction).__name__}"
    event["data"]["object"].update(id=charge, payment_intent=intent, balance_transaction=transaction)
    return event


def fees(app) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(select(LedgerEntry.kind, LedgerEntry.amount_minor,
                                         EntryFee.fee_minor, EntryFee.currency, EntryFee.source)
                                  .join(EntryFee, EntryFee.entry_id == LedgerEntry.id)).all()
        db.session.rollback()
        return [tuple(row) for row in rows]


def test_the_fee_is_fetched_once_and_kept_beside_the_donation(app, client, seed, stripe_api, runner):
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "usd"))
    post_stripe(client, charge_succeeded())
    assert fees(app) == []  # the charge only names its balance transaction

    assert stripe_fees_job(app) == 1
    assert fees(app) == [(EntryKind.donation, 2000, 88, "USD", TXN)]
    [call] = stripe_api.requests
    assert call["path"] == f"/v1/balance_transactions/{TXN}"
    assert call["headers"]["Authorization"] == "Bearer sk_test_local"
    with app.app_context():  # Stripe's answer is archived verbatim, like any inbound body
        archived = db.session.scalar(select(InboundPayload).where(
            InboundPayload.external_id == f"balance_transaction:{TXN}"))
        assert json.loads(archived.body) == TRANSACTION and archived.status == "processed"
        db.session.rollback()

    assert stripe_fees_job(app) == 0 and len(stripe_api.requests) == 1  # known: not asked again
    assert runner.invoke(args=["replay", "tw", "--stream", "stripe"]).exit_code == 0
    assert fees(app) == [(EntryKind.donation, 2000, 88, "USD", TXN)]
    reconcile_ok(runner)


def test_a_fee_learnt_before_its_donation_lands_with_it(app, client, seed):
    post_stripe(client, charge_succeeded())
    assert stripe_fees_job(app) == 1  # fetched and kept on the charge: no donation yet
    assert fees(app) == []
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "usd"))
    assert fees(app) == [(EntryKind.donation, 2000, 88, "USD", TXN)]


def test_an_expanded_balance_transaction_needs_no_fetch(app, client, seed, stripe_api):
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "usd"))
    post_stripe(client, charge_succeeded(transaction=TRANSACTION))
    assert fees(app) == [(EntryKind.donation, 2000, 88, "USD", TXN)]
    assert stripe_fees_job(app) == 0 and stripe_api.requests == []


def test_a_fee_in_another_currency_is_not_put_on_the_donation(app, client, seed):
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "gbp"))  # settled in usd
    post_stripe(client, charge_succeeded())
    stripe_fees_job(app)
    assert fees(app) == []


def test_stripe_refusing_the_lookup_writes_nothing_and_is_asked_again(app, client, seed, stripe_api):
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "usd"))
    post_stripe(client, charge_succeeded(transaction="txn_unknown"))
    assert stripe_fees_job(app) == 0
    assert fees(app) == []
    stripe_fees_job(app)
    assert [r["path"] for r in stripe_api.requests] == ["/v1/balance_transactions/txn_unknown"] * 2


def test_a_dispute_fee_told_by_a_later_event_is_kept(app, client, seed, runner):
    post_stripe(client, checkout_event("cs_d", "pi_d", 5000))
    # created (an inquiry would move nothing; this one already took the money) without fees ...
    created = dispute_event("dispute.created", "ch_d", "pi_d", 5000, status="needs_response")
    post_stripe(client, created)
    # ... then funds_withdrawn with the balance transactions, fee included
    post_stripe(client, dispute_event("dispute.funds_withdrawn", "ch_d", "pi_d", 5000,
                                      status="needs_response"))
    [(kind, amount, fee, currency, _source)] = fees(app)
    withdrawn = stripe_sample("charge.dispute.funds_withdrawn")["data"]["object"]
    expected = sum(bt["fee"] for bt in withdrawn["balance_transactions"] if bt["amount"] < 0)
    assert (kind, amount, fee, currency) == (EntryKind.chargeback, -5000, expected, "GBP")
    assert expected > 0
    reconcile_ok(runner)


def test_the_statement_counts_the_fee_and_the_net_after_fees(app, client, seed):
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "usd", city="berlin"))
    post_stripe(client, charge_succeeded())
    stripe_fees_job(app)
    with app.app_context():
        from twestival.campaigns.service import get_campaign
        from twestival.ledger.statement import statement
        [row] = statement(db.session, get_campaign(db.session, "tw"))
        db.session.rollback()
    assert (row.stream, row.currency, row.gross, row.fees, row.net, row.net_after_fees) == (
        "stripe", "USD", 2000, 88, 2000, 1912)
