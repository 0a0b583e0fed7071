"""Webhook deliveries taken in groups (group commit): a group lands exactly as the same
deliveries would one at a time, each delivery gets its own answer, and concurrent deliveries
over HTTP count once each."""
from __future__ import annotations

import copy
import json
import shutil
import threading

import pytest
from sqlalchemy import select

from tests.conftest import make_app
from tests.payments import (WEBHOOK_SECRET, board, checkout_event, dispute_event, payments_app,
                            post_stripe, reconcile_ok, refund_event, stripe_sample)
from twestival.extensions import db
from twestival.storage.groupcommit import BatchFailed, GroupCommit
from twestival.ledger import LedgerEntry
from twestival.ledger.models import EntryFee
from twestival.ledger.totals import CityTotal
from twestival.streams.inbox import receive as intake
from twestival.streams.inbox.delivery import Delivery, delivery as inbox_delivery
from twestival.streams.stripe import events as stripe
from twestival.streams.inbox.archive import InboundPayload, archive
from twestival.streams.inbox import registry


def charge_event(charge: str, intent: str, amount: int, fee: int, currency: str = "gbp") -> dict:
    event = copy.deepcopy(stripe_sample("charge.succeeded"))
    event["id"] = f"evt_charge_{charge}"
    event["data"]["object"].update(
        id=charge, payment_intent=intent, amount=amount, currency=currency,
        balance_transaction={"id": f"txn_{charge}", "object": "balance_transaction",
                             "fee": fee, "currency": currency, "amount": amount})
    return event


def mixed_events() -> list[dict]:
    """What a busy minute brings, in an awkward order."""
    duplicate = checkout_event("cs_a", "pi_a", 2500, donor_name="Ada")
    no_session = checkout_event("cs_x", "pi_x", 700)
    del no_session["data"]["object"]["id"]                            # refused: no session id
    return [
        refund_event("ch_a", "pi_a", [("re_a", 500)], amount=2500),   # before its donation
        duplicate,
        checkout_event("cs_b", "pi_b", 120000, "jpy", city="tokyo"),  # JPY: no minor digits
        copy.deepcopy(duplicate),                                     # the same event again
        checkout_event("cs_c", "pi_c", 1000, "eur", city="berlin", message="Go Berlin"),
        checkout_event("cs_d", "pi_d", 900, city=None),               # no city: unassigned
        checkout_event("cs_e", "pi_e", 800, campaign="nope"),         # unknown campaign
        no_session,
        charge_event("ch_f", "pi_f", 3000, fee=107),                  # fee before its donation
        checkout_event("cs_f", "pi_f", 3000),
        checkout_event("cs_g", "pi_g", 1500, payment_status="unpaid"),  # pending
        dispute_event("dispute.funds_withdrawn", "ch_c", "pi_c", 1000, "eur",
                      status="needs_response"),
        checkout_event("cs_h", "pi_h", 4200, city="london", donor_name="Hal"),
    ]


def deliveries(events: list[dict]) -> list[Delivery]:
    return [inbox_delivery(stripe.STREAM, json.dumps(e).encode(), {"Stripe-Signature": "t=1"},
                            "application/json", e["id"], e) for e in events]


def one_at_a_time(session, events: list[dict]) -> None:
    """The stream's processor alone, one committed delivery after another (as a replay is)."""
    for item in deliveries(events):
        payload = archive(session, item.stream, item.body, headers=item.headers,
                          content_type=item.content_type, external_id=item.external_id,
                          campaign_id=stripe.campaign_hint(session, item.event))
        session.commit()
        try:
            registry.get(stripe.STREAM).process(session, payload)
            session.commit()
        except Exception:
            session.rollback()
            payload = session.get(InboundPayload, payload.id)
            payload.status = "rejected"
            session.commit()


def state(session) -> dict:
    entry_keys = {e.id: e.external_id for e in session.scalars(select(LedgerEntry))}
    ledger = sorted(
        (e.stream, e.external_id, e.kind.value, e.amount_minor, e.currency, e.city_id,
         e.city_minor, e.reporting_minor, e.fx_rate, e.city_fx_rate, e.donor_name, e.message,
         e.anonymous, e.fee_minor, entry_keys.get(e.reverses_id), json.dumps(e.meta, sort_keys=True))
        for e in session.scalars(select(LedgerEntry)))
    checkouts = sorted((c.session_id, c.payment_intent_id, c.status, c.amount_minor, c.currency,
                        c.city_id, entry_keys.get(c.entry_id))
                       for c in session.scalars(select(stripe.StripeCheckout)))
    totals = sorted((t.city_id, t.raised_minor, t.raised_reporting_minor, t.donations)
                    for t in session.scalars(select(CityTotal)))
    statuses = sorted((p.external_id, p.status) for p in session.scalars(select(InboundPayload)))
    fees = sorted((entry_keys[f.entry_id], f.fee_minor, f.currency)
                  for f in session.scalars(select(EntryFee)))
    return dict(ledger=ledger, checkouts=checkouts, totals=totals, statuses=statuses, fees=fees)


@pytest.fixture
def two_databases(template_db, tmp_path):
    apps = []
    for name in ("grouped", "single"):
        path = tmp_path / f"{name}.db"
        shutil.copy(template_db, path)
        apps.append(make_app(path, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET))
    yield apps
    for app in apps:
        app.extensions["twestival.live"].stop()
        with app.app_context():
            db.engine.dispose()


def seed_campaign(app) -> None:
    from twestival.campaigns.service import add_city, create_campaign
    with app.app_context():
        campaign = create_campaign(db.session, "tw", name="Twestival Test", currency="GBP")
        for slug, country, currency, zone in (("london", "GB", "GBP", "Europe/London"),
                                              ("tokyo", "JP", "JPY", "Asia/Tokyo"),
                                              ("berlin", "DE", "EUR", "Europe/Berlin")):
            add_city(db.session, campaign, slug, name=slug.title(), country=country,
                     currency=currency, timezone=zone, target="1000")
        db.session.commit()


def test_a_group_lands_exactly_as_the_same_deliveries_one_at_a_time(two_databases):
    grouped, single = two_databases
    events = mixed_events()
    for app in two_databases:
        seed_campaign(app)
    with grouped.app_context():
        group = deliveries(events)
        intake.archive_many(db.session, group)
        db.session.commit()
        outcomes = intake.process_many(db.session, group)
        db.session.commit()
        got = state(db.session)
    with single.app_context():
        one_at_a_time(db.session, events)
        expected = state(db.session)

    assert got == expected
    # Each delivery got its own answer; the refused one did not undo the others.
    answers = {e["id"]: o.status for e, o in zip(events, outcomes)}
    assert [o.status for o in outcomes].count("duplicate") == 1
    assert answers["evt_checkout.session.completed_cs_x"] == "rejected"
    assert outcomes[7].error is not None and "no id" in outcomes[7].error.message
    assert answers["evt_checkout.session.completed_cs_e"] == "unknown_campaign"
    assert answers["evt_checkout.session.completed_cs_g"] == "pending"
    # The money itself: a refund that came first is applied, the fee that came first attached.
    ledger = {row[1]: row for row in got["ledger"]}
    assert ledger["refund:re_a"][3] == -500 and ledger["refund:re_a"][14] == "checkout:cs_a"
    assert ledger["checkout:cs_b"][3:5] == (120000, "JPY")
    assert ("checkout:cs_f", 107, "GBP") in got["fees"]
    assert ledger["dispute:ch_c"][3:5] == (-1000, "EUR")
    assert "checkout:cs_e" not in ledger and "checkout:cs_g" not in ledger


def test_concurrent_deliveries_over_http_count_once_each(database_url, seed):
    """Eight senders at once, every event sent twice: grouped or not, each counts once."""
    app = next(payments_app(database_url))
    try:
        events = [checkout_event(f"cs_{n}", f"pi_{n}", 1000 + n, city=("london", "tokyo")[n % 2],
                                 currency=("gbp", "jpy")[n % 2]) for n in range(40)]
        work = events + [copy.deepcopy(e) for e in events]
        answers: list[int] = []
        lock = threading.Lock()

        def send(part: list[dict]) -> None:
            client = app.test_client()
            for event in part:
                status = post_stripe(client, event).status_code
                with lock:
                    answers.append(status)

        threads = [threading.Thread(target=send, args=(work[n::8],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert answers == [200] * 80
        client = app.test_client()
        totals = board(client)["by_city"]
        assert totals["london"]["raised_minor"] == sum(1000 + n for n in range(0, 40, 2))
        assert totals["tokyo"]["raised_minor"] == sum(1000 + n for n in range(1, 40, 2))
        assert totals["london"]["donations"] + totals["tokyo"]["donations"] == 40
        with app.app_context():
            assert db.session.query(LedgerEntry).count() == 40
            statuses = [p.status for p in db.session.scalars(select(InboundPayload))]
        assert sorted(set(statuses)) == ["duplicate", "processed"]
        assert statuses.count("processed") == 40
        reconcile_ok(app.test_cli_runner())
    finally:
        app.extensions["twestival.live"].stop()
        with app.app_context():
            db.engine.dispose()


# --- the group commit itself ----------------------------------------------------------------

def test_requests_arriving_during_a_batch_go_together_in_the_next_and_get_their_own_answer():
    first_started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def write(items):
        batches.append(list(items))
        if len(batches) == 1:
            first_started.set()
            release.wait(5)
        return [item * 10 for item in items]

    group = GroupCommit(write)
    answers: dict[int, int] = {}

    def submit(n: int) -> None:
        answers[n] = group.submit(n)

    leader = threading.Thread(target=submit, args=(0,))
    leader.start()
    assert first_started.wait(5)
    followers = [threading.Thread(target=submit, args=(n,)) for n in range(1, 6)]
    for thread in followers:
        thread.start()
    while len(group._queue) < 5:   # all five queued behind the first batch
        threading.Event().wait(0.01)
    release.set()
    for thread in [leader, *followers]:
        thread.join(5)
    assert batches[0] == [0]
    assert sorted(batches[1]) == [1, 2, 3, 4, 5] and len(batches) == 2
    assert answers == {n: n * 10 for n in range(6)}


def test_a_failed_batch_answers_each_of_its_requests_and_the_next_batch_still_runs():
    calls = []

    def write(items):
        calls.append(list(items))
        if "bad" in items:
            raise ValueError("boom")
        return [f"ok {item}" for item in items]

    group = GroupCommit(write)
    with pytest.raises(ValueError):
        group.submit("bad")
    assert group.submit("good") == "ok good"
    assert calls == [["bad"], ["good"]]


def test_a_follower_of_a_failed_batch_is_told_its_batch_failed():
    started, release = threading.Event(), threading.Event()

    def write(items):
        if items == ["first"]:
            started.set()
            release.wait(5)
            return ["done"]
        raise ValueError("boom")

    group = GroupCommit(write)
    outcome: dict[str, object] = {}

    def follower(name):
        try:
            outcome[name] = group.submit(name)
        except (BatchFailed, ValueError) as exc:
            outcome[name] = exc

    leader = threading.Thread(target=lambda: outcome.setdefault("first", group.submit("first")))
    leader.start()
    assert started.wait(5)
    others = [threading.Thread(target=follower, args=(n,)) for n in ("a", "b")]
    for thread in others:
        thread.start()
    while len(group._queue) < 2:
        threading.Event().wait(0.01)
    release.set()
    for thread in [leader, *others]:
        thread.join(5)
    assert outcome["first"] == "done"
    # One of the two led the failed batch and saw the error itself; the other was told.
    errors = sorted((outcome["a"], outcome["b"]), key=lambda e: type(e).__name__)
    assert isinstance(errors[0], BatchFailed) and isinstance(errors[0].__cause__, ValueError)
    assert isinstance(errors[1], ValueError)


def test_requests_arriving_while_the_leader_waits_to_write_go_in_its_batch():
    waiting, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def ready():   # as the webhooks' leader waits for another process's write lock
        if not batches:
            waiting.set()
            release.wait(5)

    def write(items):
        batches.append(sorted(items))
        return [item * 10 for item in items]

    group = GroupCommit(write, ready=ready)
    answers: dict[int, int] = {}
    threads = [threading.Thread(target=lambda n=n: answers.setdefault(n, group.submit(n)))
               for n in range(4)]
    threads[0].start()
    assert waiting.wait(5)
    for thread in threads[1:]:
        thread.start()
    while len(group._queue) < 4:   # the leader's own request and three that came meanwhile
        threading.Event().wait(0.01)
    release.set()
    for thread in threads:
        thread.join(5)
    assert batches == [[0, 1, 2, 3]]
    assert answers == {n: n * 10 for n in range(4)}


def test_a_leader_that_cannot_get_ready_fails_its_batch_and_the_next_still_runs():
    calls = {"ready": 0, "write": 0}

    def ready():
        calls["ready"] += 1
        if calls["ready"] == 1:
            raise ValueError("boom")

    def write(items):
        calls["write"] += 1
        return [f"ok {item}" for item in items]

    group = GroupCommit(write, ready=ready)
    with pytest.raises(ValueError):
        group.submit("first")
    assert group.submit("second") == "ok second"
    assert calls == {"ready": 2, "write": 1}
