"""Refunds and disputes: linked negative entries, exact totals in any order of arrival."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from tests.payments import (board, checkout_event, dispute_event, payments_app, post_stripe,
                            reconcile_ok, refund_event, stripe_sample)
from twestival.extensions import db
from twestival.ledger import EntryKind, LedgerEntry, assign
from twestival.streams.inbox.archive import InboundPayload


@pytest.fixture
def app(db_path):
    yield from payments_app(db_path)


def entries(app):
    with app.app_context():
        rows = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        db.session.expunge_all()
        db.session.rollback()
        return rows


def london(client) -> int:
    return board(client)["by_city"]["london"]["raised_minor"]


def test_refund_samples_land_against_the_checkout_sample(app, client, seed, runner):
    """The samples themselves: a session paid for pi_…, the charge of that PaymentIntent, then
    its refund (charge.refunded lists it; charge.refund.updated repeats the same refund)."""
    names = ["checkout.session.completed", "charge.succeeded", "charge.refunded",
             "charge.refund.updated", "charge.dispute.created"]
    for number, name in enumerate(names):
        event = stripe_sample(name)
        event["id"] = f"evt_sample_{number}"  # the samples share one anonymised event id
        if name == "checkout.session.completed":
            event["data"]["object"]["metadata"] = {"campaign": "tw", "city": "london"}
        assert post_stripe(client, event).status_code == 200, name
    donation, refund = entries(app)
    assert (donation.amount_minor, donation.currency) == (3000, "USD")
    assert (refund.kind, refund.amount_minor, refund.currency) == (EntryKind.refund, -100, "USD")
    assert refund.reverses_id == donation.id and refund.external_id == "refund:re_000000000000000000000000"
    assert refund.fx_rate == donation.fx_rate  # undone at the rate it came in at
    assert london(client) == donation.city_minor + refund.city_minor
    reconcile_ok(runner)


def test_dispute_samples_land_against_the_payment_mode_sample(app, client, seed, runner):
    checkout = stripe_sample("checkout.session.completed.payment_mode")  # 250.00 USD, pi_0…
    checkout["data"]["object"]["metadata"] = {"campaign": "tw", "city": "berlin"}
    post_stripe(client, checkout)
    intent = checkout["data"]["object"]["payment_intent"]
    for number, name in enumerate(["charge.dispute.funds_withdrawn", "charge.dispute.updated",
                                   "charge.dispute.funds_reinstated", "charge.dispute.closed"]):
        event = stripe_sample(name)
        event["id"] = f"evt_dispute_{number}"
        event["data"]["object"]["payment_intent"] = intent  # as current API versions send it
        assert post_stripe(client, event).status_code == 200, name
    donation, chargeback, reinstated = entries(app)
    assert (chargeback.kind, chargeback.amount_minor, chargeback.fee_minor) == (
        EntryKind.chargeback, -25000, 1500)
    assert chargeback.reverses_id == donation.id
    assert (reinstated.kind, reinstated.amount_minor, reinstated.reverses_id) == (
        EntryKind.reversal, 25000, chargeback.id)
    assert board(client)["by_city"]["berlin"]["raised_minor"] == donation.city_minor
    reconcile_ok(runner)


def test_partial_then_full_refund_one_entry_per_refund_id(app, client, seed, runner):
    post_stripe(client, checkout_event("cs_1", "pi_1", 5000))
    post_stripe(client, refund_event("ch_1", "pi_1", [("re_a", 1000)], amount=5000))
    assert london(client) == 4000
    # The full refund: Stripe lists both refunds on the charge again.
    post_stripe(client, refund_event("ch_1", "pi_1", [("re_a", 1000), ("re_b", 4000)], amount=5000))
    assert london(client) == 0
    refunds = [e for e in entries(app) if e.kind is EntryKind.refund]
    assert sorted(e.external_id for e in refunds) == ["refund:re_a", "refund:re_b"]
    assert {e.reverses_id for e in refunds} == {entries(app)[0].id}
    reconcile_ok(runner)


def test_refund_before_its_donation_gives_the_same_totals(app, client, seed, runner):
    post_stripe(client, refund_event("ch_2", "pi_2", [("re_c", 700)], amount=2000))
    assert london(client) == 0
    with app.app_context():
        assert db.session.scalar(select(InboundPayload.status)) == "parked"
    post_stripe(client, checkout_event("cs_2", "pi_2", 2000))
    assert london(client) == 1300
    with app.app_context():
        assert set(db.session.scalars(select(InboundPayload.status))) == {"processed"}
    reconcile_ok(runner)


def test_old_api_refund_found_through_charge_succeeded(app, client, seed):
    """A refund that names only the charge is linked once charge.succeeded tells its intent."""
    refund = refund_event("ch_3", None, [("re_d", 500)], amount=2000)
    charge = stripe_sample("charge.succeeded")
    charge["id"] = "evt_charge_3"
    charge["data"]["object"].update(id="ch_3", payment_intent="pi_3", currency="gbp")
    post_stripe(client, refund)
    post_stripe(client, checkout_event("cs_3", "pi_3", 2000))
    assert london(client) == 2000  # still parked: nothing ties ch_3 to pi_3 yet
    post_stripe(client, charge)
    assert london(client) == 1500


def test_failed_refund_gives_the_money_back(app, client, seed, runner):
    refund = stripe_sample("charge.refund.updated")
    obj = refund["data"]["object"]
    obj.update(id="re_f", charge="ch_4", payment_intent="pi_4", amount=800, currency="gbp",
               status="failed")
    refund["id"] = "evt_refund_failed"
    post_stripe(client, refund)  # the failure arrives first...
    post_stripe(client, checkout_event("cs_4", "pi_4", 2000))
    pending = dict(refund, id="evt_refund_pending")
    pending["data"] = {"object": dict(obj, status="pending")}
    post_stripe(client, pending)  # ... and the earlier "pending" late
    assert london(client) == 2000
    kinds = [e.kind for e in entries(app)]
    assert kinds == [EntryKind.donation, EntryKind.refund, EntryKind.reversal]
    reconcile_ok(runner)


DISPUTE_LOST = [("dispute.created", "needs_response"), ("dispute.funds_withdrawn", "needs_response"),
                ("dispute.closed", "lost")]
DISPUTE_WON = [("dispute.created", "needs_response"), ("dispute.funds_withdrawn", "needs_response"),
               ("dispute.funds_reinstated", "won"), ("dispute.closed", "won")]

# Stripe may close a won dispute without a separate funds_reinstated event reaching us.
DISPUTE_WON_CLOSED = [("dispute.funds_withdrawn", "needs_response"), ("dispute.closed", "won")]


@pytest.mark.parametrize("story,net", [(DISPUTE_LOST, 0), (DISPUTE_WON, 3000),
                                       (DISPUTE_WON_CLOSED, 3000)],
                         ids=["lost", "won", "won-closed-only"])
def test_disputes_in_every_order_withdraw_once_and_reinstate_at_most_once(
        app, client, seed, runner, story, net):
    """Every permutation of the dispute's events, with the donation first, in the middle or
    last, each for its own payment: the same net for each."""
    orders = list(itertools.permutations(story + [("donation", None)]))
    for number, order in enumerate(orders):
        charge, intent = f"ch_{number}", f"pi_{number}"
        for kind, status in order:
            if kind == "donation":
                event = checkout_event(f"cs_{number}", intent, 3000)
            else:
                event = dispute_event(kind, charge, intent, 3000, status=status)
            assert post_stripe(client, event).status_code == 200
        # ... and a redelivery of everything changes nothing.
        for kind, status in order:
            if kind != "donation":
                post_stripe(client, dispute_event(kind, charge, intent, 3000, status=status))
    assert london(client) == net * len(orders)
    by_kind = {}
    for entry in entries(app):
        by_kind[entry.kind] = by_kind.get(entry.kind, 0) + 1
    assert by_kind[EntryKind.chargeback] == len(orders)  # exactly one withdrawal each
    assert by_kind.get(EntryKind.reversal, 0) == (len(orders) if net else 0)
    reconcile_ok(runner)


def test_an_inquiry_moves_no_money(app, client, seed):
    post_stripe(client, checkout_event("cs_i", "pi_i", 3000))
    post_stripe(client, dispute_event("dispute.created", "ch_i", "pi_i", 3000,
                                      status="warning_needs_response"))
    post_stripe(client, dispute_event("dispute.closed", "ch_i", "pi_i", 3000,
                                      status="warning_closed"))
    assert london(client) == 3000
    assert len(entries(app)) == 1


def test_refund_of_assigned_money_follows_it_to_its_city(app, client, seed, runner):
    post_stripe(client, checkout_event("cs_u", "pi_u", 2000, city="atlantis"))
    [original] = entries(app)
    with app.app_context():
        from twestival.campaigns.models import City
        city = db.session.scalar(select(City).where(City.slug == "london"))
        assign(db.session, original.id, city.id, by_user_id=None)
        db.session.commit()
    assert london(client) == 2000
    post_stripe(client, refund_event("ch_u", "pi_u", [("re_u", 500)], amount=2000))
    assert london(client) == 1500
    assert board(client)["unassigned_reporting_minor"] == 0
    reconcile_ok(runner)


def test_a_bad_parked_refund_does_not_block_the_donation_that_wakes_it(app, client, seed, runner):
    # A good refund listed before a bad one: neither may land (no half-processed payload).
    bad = refund_event("ch_b", "pi_b", [("re_ok", 10000), ("re_bad", 50050)], currency="isk",
                       amount=100000)
    post_stripe(client, bad)  # parked: its amount is only read once its donation is known
    response = post_stripe(client, checkout_event("cs_b", "pi_b", 100000, "isk"))
    assert response.status_code == 200
    [donation] = entries(app)
    assert (donation.amount_minor, donation.currency) == (1000, "ISK")
    with app.app_context():
        statuses = dict(db.session.execute(select(InboundPayload.external_id, InboundPayload.status)).all())
    assert statuses == {bad["id"]: "rejected", "evt_checkout.session.completed_cs_b": "processed"}
    reconcile_ok(runner)


def test_a_reversal_must_have_the_opposite_sign_of_its_original(app, client, seed):
    """Spine fix: a chargeback (negative) is undone by a positive reversal, never a negative one."""
    from twestival.errors import InvalidInput
    from twestival.ledger import NewEntry, record, reverse
    from twestival.money import Money
    post_stripe(client, checkout_event("cs_s", "pi_s", 3000))
    post_stripe(client, dispute_event("dispute.funds_withdrawn", "ch_s", "pi_s", 3000,
                                      status="needs_response"))
    donation, chargeback = entries(app)
    with app.app_context():
        undone = reverse(db.session, chargeback.id, reason="won")
        assert undone.entry.amount_minor == 3000
        for original, amount in ((donation, 100), (chargeback, -100)):
            with pytest.raises(InvalidInput, match="opposite sign"):
                record(db.session, NewEntry(
                    campaign_id=original.campaign_id, city_id=original.city_id, stream="test",
                    external_id=f"bad:{original.id}", amount=Money(amount, "GBP"),
                    kind=EntryKind.reversal, reverses_id=original.id))
        db.session.rollback()
