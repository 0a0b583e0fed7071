"""Stripe: Checkout donations, and what happens to them later (refunds, disputes).

The webhook view verifies the signature and archives the body; ``process`` turns an archived
event into ledger commands. Everything here is idempotent on the object ids Stripe gives
(Checkout Session, refund, charge), so a redelivered, replayed or reordered event changes
nothing twice:

- a Checkout Session is one donation (``checkout:<cs id>``), counted once it is paid;
- each refund is one negative entry (``refund:<re id>``) linked to the donation;
- a charge has at most one dispute, so the chargeback is ``dispute:<ch id>``: exactly one,
  whichever of created / funds_withdrawn / closed arrives first; a won dispute or reinstated
  funds reverse that chargeback once (the ledger's reversal is unique per entry).

Refunds and disputes name a charge and, on current API versions, its PaymentIntent; the
donation knows its PaymentIntent from the Checkout Session. When one arrives before its
donation it is parked (``waiting``) and processed again when the donation lands.
"""
from __future__ import annotations

import logging

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ...campaigns.directory import (
    CampaignRef,
    CityRef,
    approved_city_by_slug,
    campaign_by_slug,
)
from ...errors import InvalidInput
from ...ledger import EntryKind, LedgerEntry, NewEntry, learn_fee, record, reverse
from ...storage.database import as_loaded, utcnow
from ...storage.sql import insert_ignore, prepared_insert_ignore
from ..inbox import waiting
from ..inbox.archive import InboundPayload, claim_campaign, mark
from .amounts import from_stripe
from .models import CHECKOUT_COLUMNS, StripeCharge, StripeCheckout
from .settlement import balance_transaction, note_fee, settle_fee
from .signature import event_from as _event
from .values import text_of as _str
from .values import time_of as _time

log = logging.getLogger(__name__)
STREAM = "stripe"
# Statuses of an archived event that mean "already handled": a redelivery is a duplicate.
DONE = {"processed", "ignored"}
# meta "source" of an archived balance transaction we fetched ourselves (it has the fee)
BALANCE_TRANSACTION = "balance-transaction"
# Disputes in these states have taken the money (inquiries, "warning_*", have not).
WITHDRAWN_STATUSES = {"needs_response", "under_review", "won", "lost"}


def campaign_hint(session: Session, event: dict) -> int | None:
    """The campaign an event belongs to, when it can be told before processing."""
    obj = event["data"]["object"]
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    campaign, _city = _place(session, metadata)
    if campaign is not None:
        return campaign.id
    home = _home(session, _str(obj.get("payment_intent")), _charge_id(obj))
    return home.campaign_id if home is not None else None


# --- processing -----------------------------------------------------------------------------

def process(session: Session, payload: InboundPayload) -> None:
    if (payload.meta or {}).get("source") == BALANCE_TRANSACTION:
        balance_transaction(session, payload)
        return
    event = _event(payload.body)
    handler = HANDLERS.get(event["type"])
    if handler is None:
        mark(payload, "ignored")
        return
    if _handled_before(session, payload, event["id"]):
        mark(payload, "duplicate")
        return
    status, error = handler(session, payload, event, event["data"]["object"])
    if status != "parked" and payload.status != "received":  # a first delivery was never parked
        waiting.unpark(session, payload)
    mark(payload, status, error)


# Built once: this runs for every event. By event id alone, so the external_id index finds
# the few rows: with the stream in the WHERE clause SQLite (which keeps no statistics) walks
# the (stream, received_at) index instead, every Stripe payload ever archived.
_SAME_EVENT = select(InboundPayload.stream, InboundPayload.status).where(
    InboundPayload.external_id == bindparam("event_id"), InboundPayload.id != bindparam("payload_id"))


def _handled_before(session: Session, payload: InboundPayload, event_id: str) -> bool:
    return any(stream == STREAM and status in DONE for stream, status in session.execute(
        _SAME_EVENT, {"event_id": event_id, "payload_id": payload.id}))


Outcome = tuple[str, str | None]


def _checkout(session: Session, payload: InboundPayload, event: dict, obj: dict) -> Outcome:
    if obj.get("mode") != "payment":
        return "ignored", None
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    campaign, city = _place(session, metadata)
    if campaign is None:
        # Retrying cannot help; the payload stays archived for a replay once it can be placed.
        log.warning("Stripe event %s names no known campaign (%r)", event["id"],
                    metadata.get("campaign"))
        claim_campaign(payload, metadata.get("campaign"))
        return "unknown_campaign", f"no campaign {metadata.get('campaign')!r} for this session"
    payload.campaign_id = campaign.id
    amount = from_stripe(obj.get("amount_total"), obj.get("currency"))
    if amount.minor <= 0:
        return "ignored", None
    checkout = _checkout_row(session, obj, campaign, city, amount, payload)
    if event["type"] == "checkout.session.async_payment_failed":
        if checkout.status == "pending":
            checkout.status, checkout.updated_at = "failed", utcnow()
        return "processed", None
    if obj.get("payment_status") != "paid":
        return ("pending" if checkout.status == "pending" else "processed"), None
    entry = record(session, donation(event, metadata, campaign, city, amount, checkout.session_id,
                                     checkout.payment_intent_id, payload.id)).entry
    checkout.status, checkout.entry_id, checkout.updated_at = "paid", entry.id, utcnow()
    charges = session.scalars(select(StripeCharge).where(
        StripeCharge.payment_intent_id == checkout.payment_intent_id)).all() \
        if checkout.payment_intent_id else []
    for charge in charges:
        settle_fee(session, charge, payload)
    waiting.wake(session, [_key("pi", checkout.payment_intent_id)]
                 + [_key("ch", charge.charge_id) for charge in charges], process)
    return "processed", None


def donation(event: dict, metadata: dict, campaign: CampaignRef, city: CityRef | None, amount,
             session_id: str, payment_intent_id: str | None, payload_id: int) -> NewEntry:
    """The ledger entry of a paid Checkout Session."""
    donor = _text(metadata, "donor_name", 200)
    return NewEntry(
        campaign_id=campaign.id, city_id=city.id if city else None, stream=STREAM,
        external_id=f"checkout:{session_id}", amount=amount,
        occurred_at=_time(event.get("created")), donor_name=donor,
        message=_text(metadata, "message", 2000), anonymous=donor is None,
        payload_id=payload_id,
        meta={"checkout_session": session_id, "payment_intent": payment_intent_id,
              "event": event["id"]} | gift_meta(event, metadata))


def gift_meta(event: dict, metadata: dict) -> dict:
    """Test-mode money (Stripe's test mode, or the sandbox checkout) is said so on the
    statement; the part of the gift that covers the fees is shown there too."""
    meta = {"test_mode": True} if event.get("livemode") is False else {}
    covered = metadata.get("fee_covered")
    if isinstance(covered, str) and covered.isdigit() and len(covered) < 19:
        meta["fee_covered_minor"] = int(covered)
    return meta


def _checkout_row(session: Session, obj: dict, campaign: CampaignRef, city: CityRef | None, amount,
                  payload: InboundPayload) -> StripeCheckout:
    session_id = _str(obj.get("id"))
    if not session_id:
        raise InvalidInput("the Checkout Session has no id")
    new = session.execute(prepared_insert_ignore(
        session, StripeCheckout.__table__, ("session_id",), CHECKOUT_COLUMNS), dict(
        session_id=session_id, entry_id=None,
        payment_intent_id=_str(obj.get("payment_intent")), campaign_id=campaign.id,
        city_id=city.id if city else None, amount_minor=amount.minor, currency=amount.currency,
        status="pending", payload_id=payload.id, updated_at=utcnow())).first()
    # A new row is used as written; only a known session is read back.
    checkout = as_loaded(session, StripeCheckout, new._mapping) if new is not None else \
        session.scalar(select(StripeCheckout).where(StripeCheckout.session_id == session_id))
    if checkout.payment_intent_id is None and _str(obj.get("payment_intent")):
        checkout.payment_intent_id = _str(obj.get("payment_intent"))
    return checkout


def _charge(session: Session, payload: InboundPayload, event: dict, obj: dict) -> Outcome:
    charge = _learn(session, _str(obj.get("id")), _str(obj.get("payment_intent")))
    if charge is not None:
        transaction = obj.get("balance_transaction")
        if isinstance(transaction, str) and transaction and charge.balance_transaction_id is None:
            charge.balance_transaction_id = transaction  # the fee is fetched later
        elif isinstance(transaction, dict):  # expanded: the fee is here
            note_fee(session, charge, transaction, payload)
    return "processed", None


def _charge_refunded(session: Session, payload: InboundPayload, event: dict, obj: dict) -> Outcome:
    charge_id, intent = _str(obj.get("id")), _str(obj.get("payment_intent"))
    _learn(session, charge_id, intent)
    refunds = obj.get("refunds", {}).get("data") if isinstance(obj.get("refunds"), dict) else None
    if refunds is None:
        # API versions from 2022-11-15 leave the list out: refund.created carries each refund.
        return "ignored", "no refund list on this charge; the refund.* events carry the refunds"
    home = _home(session, intent, charge_id)
    if home is None:
        return _park(session, payload, intent, charge_id)
    payload.campaign_id = home.campaign_id
    for refund in refunds:
        if isinstance(refund, dict):
            _apply_refund(session, payload, home, refund)
    return "processed", None


def _refund(session: Session, payload: InboundPayload, event: dict, obj: dict) -> Outcome:
    charge_id, intent = _charge_id(obj), _str(obj.get("payment_intent"))
    _learn(session, charge_id, intent)
    home = _home(session, intent, charge_id)
    if home is None:
        return _park(session, payload, intent, charge_id)
    payload.campaign_id = home.campaign_id
    _apply_refund(session, payload, home, obj)
    return "processed", None


def _apply_refund(session: Session, payload: InboundPayload, home: LedgerEntry, refund: dict) -> None:
    refund_id = _str(refund.get("id"))
    status = refund.get("status")
    if not refund_id or status not in {"succeeded", "pending", "requires_action", "failed", "canceled"}:
        return
    amount = from_stripe(refund.get("amount"), refund.get("currency"))
    entry = record(session, NewEntry(
        campaign_id=home.campaign_id, city_id=home.city_id, stream=STREAM,
        external_id=f"refund:{refund_id}", amount=-amount, kind=EntryKind.refund,
        occurred_at=_time(refund.get("created")), reverses_id=home.id, payload_id=payload.id,
        fee_minor=_fee(refund.get("balance_transaction"), amount.currency),
        donor_name=home.donor_name, anonymous=home.anonymous, note=_str(refund.get("reason")),
        meta={"refund": refund_id, "charge": _charge_id(refund)})).entry
    if status in {"failed", "canceled"}:
        # A failed refund gives the money back. "failed" implies it was counted as refunded
        # first, so the refund and its reversal both exist, in whichever order events came.
        reverse(session, entry.id, reason=f"Stripe refund {refund_id} {status}", stream=STREAM)


def _dispute(session: Session, payload: InboundPayload, event: dict, obj: dict) -> Outcome:
    charge_id, intent = _charge_id(obj), _str(obj.get("payment_intent"))
    if not charge_id:
        raise InvalidInput("the dispute names no charge")
    _learn(session, charge_id, intent)
    status = obj.get("status")
    # Each event implies facts that only ever accumulate, so arrival order cannot matter:
    # money was withdrawn (the chargeback) and, for won disputes, reinstated (its reversal).
    reinstated = event["type"] == "charge.dispute.funds_reinstated" or status == "won"
    withdrawn = (reinstated or event["type"] == "charge.dispute.funds_withdrawn"
                 or status in WITHDRAWN_STATUSES)
    if not withdrawn:
        return "processed", None  # an inquiry: no money has moved
    home = _home(session, intent, charge_id)
    if home is None:
        return _park(session, payload, intent, charge_id)
    payload.campaign_id = home.campaign_id
    amount = from_stripe(obj.get("amount"), obj.get("currency"))
    fee = _dispute_fee(obj, amount.currency)
    chargeback = record(session, NewEntry(
        campaign_id=home.campaign_id, city_id=home.city_id, stream=STREAM,
        external_id=f"dispute:{charge_id}", amount=-amount, kind=EntryKind.chargeback,
        occurred_at=_time(obj.get("created")), reverses_id=home.id, payload_id=payload.id,
        fee_minor=fee, donor_name=home.donor_name,
        anonymous=home.anonymous, note=_str(obj.get("reason")),
        meta={"dispute": _str(obj.get("id")), "charge": charge_id})).entry
    if fee is not None:  # the first event may not have told it (created comes before funds move)
        learn_fee(session, chargeback.id, fee, amount.currency, _str(obj.get("id")) or charge_id,
                  payload.id)
    if reinstated:
        restored = reverse(session, chargeback.id, reason="dispute won: funds reinstated",
                           stream=STREAM).entry
        returned = _dispute_fee(obj, amount.currency, reinstated=True)
        if returned:  # Stripe gives the dispute fee back with the funds: a negative fee
            learn_fee(session, restored.id, returned, amount.currency,
                      f"{_str(obj.get('id')) or charge_id}:reinstated", payload.id)
    return "processed", None


HANDLERS = {
    "checkout.session.completed": _checkout,
    "checkout.session.async_payment_succeeded": _checkout,
    "checkout.session.async_payment_failed": _checkout,
    "charge.succeeded": _charge,
    "charge.captured": _charge,
    "charge.updated": _charge,
    "charge.refunded": _charge_refunded,
    "charge.refund.updated": _refund,
    "refund.created": _refund,
    "refund.updated": _refund,
    "refund.failed": _refund,
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.funds_reinstated": _dispute,
}


# --- linking ----------------------------------------------------------------------------

def _key(kind: str, value: str | None) -> str | None:
    return f"stripe:{kind}:{value}" if value else None


def _park(session: Session, payload: InboundPayload, intent: str | None,
          charge_id: str | None) -> Outcome:
    waiting.park(session, payload, [k for k in (_key("pi", intent), _key("ch", charge_id)) if k])
    return "parked", "waiting for the donation this refers to"


def _learn(session: Session, charge_id: str | None, intent: str | None) -> StripeCharge | None:
    if not charge_id or not intent:
        return None
    new = session.execute(insert_ignore(session, StripeCharge.__table__, ["charge_id"],
                                        charge_id=charge_id, payment_intent_id=intent)).scalar()
    if new is not None and _home(session, intent, None) is not None:
        waiting.wake(session, [_key("ch", charge_id)], process)
    return session.get(StripeCharge, charge_id)


def _home(session: Session, intent: str | None, charge_id: str | None) -> LedgerEntry | None:
    """The donation a refund or dispute undoes: where that money is now counted."""
    if not intent and charge_id:
        intent = session.scalar(select(StripeCharge.payment_intent_id)
                                .where(StripeCharge.charge_id == charge_id))
    if not intent:
        return None
    entry_id = session.scalar(select(StripeCheckout.entry_id).where(
        StripeCheckout.payment_intent_id == intent, StripeCheckout.entry_id.is_not(None)))
    if entry_id is None:
        return None
    # A coordinator may have moved it from the unassigned queue to a city since.
    moved = session.scalar(select(LedgerEntry).where(
        LedgerEntry.stream == "adjustment", LedgerEntry.external_id == f"assign:{entry_id}"))
    return moved or session.get(LedgerEntry, entry_id)


# --- small parsers --------------------------------------------------------------------------

def _place(session: Session, metadata: dict) -> tuple[CampaignRef | None, CityRef | None]:
    slug = metadata.get("campaign")
    if not isinstance(slug, str) or not slug:
        return None, None
    campaign = campaign_by_slug(session, slug)
    if campaign is None:
        return None, None
    # No approved city of that name: the campaign's unassigned queue.
    return campaign, approved_city_by_slug(session, campaign.id, metadata.get("city"))


def _charge_id(obj: dict) -> str | None:
    charge = obj.get("charge")
    if isinstance(charge, dict):  # expanded
        charge = charge.get("id")
    return _str(charge)


def _text(metadata: dict, name: str, limit: int) -> str | None:
    value = metadata.get(name)
    if not isinstance(value, str):
        return None
    return value.strip()[:limit] or None


def _fee(balance_transaction: object, currency: str) -> int | None:
    """Stripe's fee, when the event carries the balance transaction expanded."""
    if not isinstance(balance_transaction, dict) or not isinstance(balance_transaction.get("fee"), int):
        return None
    if str(balance_transaction.get("currency", "")).upper() != currency:
        return None  # settled in another currency: not comparable with the entry's amount
    return from_stripe(balance_transaction["fee"], currency).minor


def _dispute_fee(obj: dict, currency: str, *, reinstated: bool = False) -> int | None:
    """The fee of the dispute's withdrawals, or (``reinstated``) what its reinstatements gave
    back of it, as a negative fee."""
    fees = [_fee(bt, currency) for bt in obj.get("balance_transactions") or []
            if isinstance(bt, dict) and isinstance(bt.get("amount"), int)
            and (bt["amount"] > 0 if reinstated else bt["amount"] < 0)]
    fees = [fee for fee in fees if fee is not None]
    return sum(fees) if fees else None
