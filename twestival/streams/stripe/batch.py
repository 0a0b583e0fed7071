"""Stripe's batch path (``Stream.batch``, see ``inbox.receive``): new paid Checkout Sessions,
recorded together.

A big night is mostly one kind of event: a Checkout Session paid, for a session, payment and
event never seen before. Such a delivery needs no lookup of earlier state beyond proving it
is new, so a group of them is proven new with one query per fact and recorded with one
statement per table. Anything else, or anything these queries find known (a redelivery, a
session seen pending, a charge or a parked refund of the same payment), goes through
``events.process`` one by one, which also gives the same ledger entry (``events.donation``).
"""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, literal, null, select, union_all
from sqlalchemy.orm import Session

from ...errors import DomainError
from ...ledger.bulk import record_many
from ...ledger.models import LedgerEntry
from ...storage.database import utcnow
from ...storage.sql import fast_insert
from ..inbox.archive import InboundPayload
from ..inbox.delivery import Delivery
from ..inbox.waiting import WaitingPayload
from . import events as stripe
from .amounts import from_stripe
from .models import StripeCharge, StripeCheckout

PAID_TYPES = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}


def _plain(session: Session, event: dict) -> tuple | None:
    """(campaign, city, amount, session id, payment intent, metadata) of a paid session whose
    campaign is known, or None when the event needs the one-by-one path."""
    obj = event["data"]["object"]
    if (event["type"] not in PAID_TYPES or obj.get("mode") != "payment"
            or obj.get("payment_status") != "paid"):
        return None
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    campaign, city = stripe._place(session, metadata)
    session_id = stripe._str(obj.get("id"))
    if campaign is None or session_id is None:
        return None
    try:
        amount = from_stripe(obj.get("amount_total"), obj.get("currency"))
    except DomainError:
        return None
    if amount.minor <= 0:
        return None
    return campaign, city, amount, session_id, stripe._str(obj.get("payment_intent")), metadata


def new_paid_checkouts(session: Session, deliveries: Sequence[Delivery]) -> dict[int, str]:
    plain: dict[int, tuple] = {}
    seen: set[str] = set()
    for index, item in enumerate(deliveries):
        facts = _plain(session, item.event)
        if facts is None:
            continue
        names = {item.external_id, facts[3], facts[4] or item.external_id}
        if names & seen:  # the same event, session or payment twice in one group
            continue
        seen |= names
        plain[index] = facts
    if not plain:
        return {}
    _drop_known(session, deliveries, plain)
    if not plain:
        return {}
    record_many(session, [
        stripe.donation(deliveries[i].event, metadata, campaign, city, amount, session_id, intent,
                        deliveries[i].payload_id)
        for i, (campaign, city, amount, session_id, intent, metadata) in plain.items()])
    external_ids = [f"checkout:{facts[3]}" for facts in plain.values()]
    entry_ids = dict(session.execute(_ENTRY_IDS, {"ids": external_ids}).all())
    now = utcnow()
    fast_insert(
        session, StripeCheckout.__table__,
        [dict(session_id=session_id, payment_intent_id=intent, campaign_id=campaign.id,
              city_id=city.id if city else None, amount_minor=amount.minor,
              currency=amount.currency, status="paid",
              entry_id=entry_ids[f"checkout:{session_id}"],
              payload_id=deliveries[i].payload_id, updated_at=now)
         for i, (campaign, city, amount, session_id, intent, _m) in plain.items()],
        ["session_id"])
    return {i: "processed" for i in plain}


_ENTRY_IDS = select(LedgerEntry.external_id, LedgerEntry.id).where(
    LedgerEntry.stream == stripe.STREAM,
    LedgerEntry.external_id.in_(bindparam("ids", expanding=True)))


# Everything the database may already know of a group, in one statement built once (each
# statement costs more in SQLAlchemy than in the database). Events by their id alone, as
# stripe._handled_before looks them up (the external_id index), status checked here.
_payloads, _checkouts = InboundPayload.__table__.c, StripeCheckout.__table__.c
_charges, _waiting = StripeCharge.__table__.c, WaitingPayload.__table__.c
_KNOWN = union_all(
    select(literal("event"), _payloads.external_id, _payloads.stream, _payloads.status)
    .where(_payloads.external_id.in_(bindparam("events", expanding=True))),
    select(literal("session"), _checkouts.session_id, null(), null())
    .where(_checkouts.session_id.in_(bindparam("sessions", expanding=True))),
    select(literal("intent"), _charges.payment_intent_id, null(), null())
    .where(_charges.payment_intent_id.in_(bindparam("intents", expanding=True))),
    select(literal("parked"), _waiting.key, null(), null())
    .where(_waiting.key.in_(bindparam("parked", expanding=True))))


def _drop_known(session: Session, deliveries: Sequence[Delivery], plain: dict[int, tuple]) -> None:
    """Leave to the one-by-one path every delivery the database already knows something of."""
    names: dict[str, dict[str, int]] = {
        "event": {deliveries[i].external_id: i for i in plain},
        "session": {facts[3]: i for i, facts in plain.items()},
        "intent": {facts[4]: i for i, facts in plain.items() if facts[4]},
    }
    names["parked"] = {stripe._key("pi", p): i for p, i in names["intent"].items()}
    known: set[int] = set()
    for kind, name, stream, status in session.execute(_KNOWN, {
            "events": list(names["event"]), "sessions": list(names["session"]),
            "intents": list(names["intent"]), "parked": list(names["parked"])}):
        if kind != "event" or (stream == stripe.STREAM and status in stripe.DONE):
            known.add(names[kind][name])
    for index in known:
        del plain[index]

