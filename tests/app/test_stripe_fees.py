"""Stripe's fee on a card donation: named by the charge, told by its balance transaction
(fetched from Stripe's API, here a local server answering with a real BalanceTransaction)."""
from __future__ import annotations

import copy
import csv
import io
import json
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from sqlalchemy import func, select, text

from tests.hub_support import email_of, login, person
from tests.payments import (FIXTURES, LocalProvider, checkout_event, dispute_event, payments_app,
                            post_stripe, reconcile_ok, stripe_sample)
from twestival.extensions import db
from twestival.ledger import EntryFee, EntryKind, LedgerEntry
from twestival.planning.scheduler import stripe_fees_job
from twestival.streams.inbox.archive import InboundPayload

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
def people_boss(app, seed):
    """A coordinator of the campaign (the statement is theirs)."""
    from twestival.accounts.models import Role
    return person(app, "boss@example.org", Role.coordinator, name="boss")


def sign_in(client, user_id):
    login(client, email_of(client.application, user_id))


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


def cross_currency(created: int = 1700000000) -> dict:
    """A balance transaction of a card charged 10.00 EUR and settled in USD: the shape of
    TRANSACTION (dj-stripe's real one) with the numbers of Stripe's API reference example for
    ``exchange_rate`` ("you charged a customer 10.00 EUR ... converted into 12.34 USD ... amount
    1234, currency usd, exchange_rate 1.234"); the fee, 0.66 USD, is stated in USD."""
    transaction = copy.deepcopy(TRANSACTION)
    transaction.update(id="txn_fx", amount=1234, currency="usd", exchange_rate=1.234, fee=66,
                       net=1234 - 66, created=created, source="ch_fx", description=None)
    transaction["fee_details"][0].update(amount=66, currency="usd")
    return transaction


def test_a_fee_settled_in_another_currency_counts_at_stripes_rate(app, client, seed, runner):
    """Donor pays 10.00 EUR; Stripe keeps 0.66 USD. The fee is kept as stated (66, USD) and
    counted in the donation's currency at Stripe's own rate of that day: 0.66 / 1.234 EUR
    = 0.5348... -> 0.53 EUR."""
    post_stripe(client, checkout_event("cs_fx", "pi_fx", 1000, "eur", city="berlin"))
    post_stripe(client, charge_succeeded("ch_fx", "pi_fx", transaction=cross_currency()))
    with app.app_context():
        fee = db.session.scalar(select(EntryFee))
        assert (fee.fee_minor, fee.currency, fee.entry_minor) == (66, "USD", 53)
        assert (fee.fx_rate, fee.fx_date.isoformat(), fee.fx_source) == (
            "1.234", "2023-11-14", "stripe")
        assert fee.source == "txn_fx"
        with pytest.raises(Exception, match="append-only"):  # the stated fee stands
            db.session.execute(text("UPDATE entry_fee SET fee_minor = 0"))
        db.session.rollback()
        from twestival.campaigns.service import get_campaign
        from twestival.ledger.statement import statement
        [row] = statement(db.session, get_campaign(db.session, "tw"))
        db.session.rollback()
    assert (row.currency, row.gross, row.fees, row.net_after_fees) == ("EUR", 1000, 53, 947)
    assert [str(f) for f in row.converted_fees] == [
        "0.66 USD = 0.53 EUR at 1.234 USD/EUR on 2023-11-14 (stripe)"]
    # Replayed: nothing twice, the same fee.
    assert runner.invoke(args=["replay", "tw", "--stream", "stripe"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EntryFee)) == 1
        db.session.rollback()
    reconcile_ok(runner)


def test_a_fetched_cross_currency_fee_learnt_before_its_donation(app, client, seed, stripe_api,
                                                                 people_boss):
    """Through the fee fetch (the local server answers as api.stripe.com), before the
    checkout event: the rate waits on the charge with the fee. Shown on the statement page and
    in its CSV."""
    stripe_api.routes[("GET", "/v1/balance_transactions/txn_fx")] = \
        lambda r: (200, cross_currency())
    post_stripe(client, charge_succeeded("ch_fx", "pi_fx", transaction="txn_fx"))
    assert stripe_fees_job(app) == 1
    post_stripe(client, checkout_event("cs_fx", "pi_fx", 1000, "eur", city="berlin"))
    assert fees(app) == [(EntryKind.donation, 1000, 66, "USD", "txn_fx")]
    sign_in(client, people_boss)
    page = client.get("/coordinate/tw/statement")
    assert page.status_code == 200
    assert "incl. 0.66 USD = 0.53 EUR at 1.234 USD/EUR on 2023-11-14 (stripe)" in page.text
    download = client.get("/coordinate/tw/statement?format=csv")
    [row] = list(csv.DictReader(io.StringIO(download.text)))
    assert (row["currency"], row["gross"], row["fees"], row["net_after_fees"]) == (
        "EUR", "10.00", "0.53", "9.47")
    assert row["fees_converted"] == "0.66 USD = 0.53 EUR at 1.234 USD/EUR on 2023-11-14 (stripe)"


def test_without_stripes_rate_the_fee_converts_at_the_ecb_rate_and_says_so(app, client, seed):
    """A balance transaction in USD naming no exchange_rate (dj-stripe's, null) on a GBP
    donation: converted at our ECB rate of the donation's day, its source "ecb"."""
    post_stripe(client, checkout_event("cs_fee", "pi_fee", 2000, "gbp"))
    post_stripe(client, charge_succeeded(transaction=TRANSACTION))
    with app.app_context():
        from twestival.ledger.fx import rate_for
        fee = db.session.scalar(select(EntryFee))
        entry = db.session.get(LedgerEntry, fee.entry_id)
        rate = rate_for(db.session, "GBP", "USD", entry.occurred_at.date())
        expected = (Decimal(88) / rate.value).to_integral_value(rounding=ROUND_HALF_EVEN)
        assert (fee.fee_minor, fee.currency, fee.fx_source) == (88, "USD", "ecb")
        assert (fee.entry_minor, fee.fx_rate, fee.fx_date) == (int(expected), rate.text,
                                                               rate.date)
        assert 0 < fee.entry_minor < 88  # fewer pence than cents
        db.session.rollback()


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
