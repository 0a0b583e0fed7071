"""Stripe's fee on a donation: learnt from the charge's balance transaction (expanded in an
event, or fetched later by ``fees``), and put on the donation once both are known, in either
order. A fee settled in another currency than the donor paid in is converted at Stripe's own
rate when the balance transaction names one."""
from __future__ import annotations

import json
import logging
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import BadRequest, InvalidInput
from ...ledger import LedgerEntry, learn_fee
from ...ledger.fx import FxError, rate_for
from ...money import Rate
from ..inbox.archive import InboundPayload, mark
from .amounts import from_stripe
from .models import StripeCharge, StripeCheckout
from .values import text_of as _str
from .values import time_of as _time

log = logging.getLogger(__name__)


def note_fee(session: Session, charge: StripeCharge, transaction: dict,
              payload: InboundPayload) -> None:
    fee, currency = transaction.get("fee"), transaction.get("currency")
    if not isinstance(fee, int) or isinstance(fee, bool) or not isinstance(currency, str):
        return
    charge.balance_transaction_id = _str(transaction.get("id")) or charge.balance_transaction_id
    if charge.fee_minor is None:
        money = from_stripe(fee, currency)
        charge.fee_minor, charge.fee_currency = money.minor, money.currency
        charge.fee_exchange_rate = _exchange_rate(transaction.get("exchange_rate"))
        created = _time(transaction.get("created"))
        charge.fee_rate_date = created.date() if created else None
    settle_fee(session, charge, payload)


def _exchange_rate(value: object) -> str | None:
    """The balance transaction's ``exchange_rate`` as exact decimal text (JSON gives a float;
    its shortest repr is the digits Stripe wrote), or None when there was no conversion."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return format(Decimal(repr(value)).normalize(), "f")


def settle_fee(session: Session, charge: StripeCharge, payload: InboundPayload) -> None:
    """Put a known fee on the charge's donation, once both are known (in either order)."""
    if charge.fee_minor is None:
        return
    entry_id = session.scalar(select(StripeCheckout.entry_id).where(
        StripeCheckout.payment_intent_id == charge.payment_intent_id,
        StripeCheckout.entry_id.is_not(None)))
    if entry_id is None:
        return
    entry = session.get(LedgerEntry, entry_id)
    try:
        rate = fee_rate(session, charge, entry)
    except FxError as exc:  # kept on the charge; a replay after rates are loaded attaches it
        log.warning("Stripe fee for %s in %s not attached: %s", charge.charge_id,
                    charge.fee_currency, exc.message)
        return
    learn_fee(session, entry_id, charge.fee_minor, charge.fee_currency,
              charge.balance_transaction_id or charge.charge_id, payload.id, rate=rate)


def fee_rate(session: Session, charge: StripeCharge, entry: LedgerEntry) -> Rate | None:
    """The rate at which Stripe settled a charge in another currency than the donor paid in:
    its own (the balance transaction's exchange_rate, on the day of that transaction), else,
    when a balance transaction names none, the ECB rate of the donation's day (said so by its
    source)."""
    if entry.currency == charge.fee_currency:
        return None
    if charge.fee_exchange_rate and charge.fee_rate_date:
        return Rate(entry.currency, charge.fee_currency, Decimal(charge.fee_exchange_rate),
                    charge.fee_rate_date, source="stripe")
    return rate_for(session, entry.currency, charge.fee_currency, entry.occurred_at.date())


def balance_transaction(session: Session, payload: InboundPayload) -> None:
    """A balance transaction we fetched from Stripe (archived first, like any inbound body)."""
    try:
        transaction = json.loads(payload.body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the archived balance transaction is not JSON") from None
    if not isinstance(transaction, dict) or not _str(transaction.get("id")):
        raise InvalidInput("the archived balance transaction has no id")
    charges = session.scalars(select(StripeCharge).where(
        StripeCharge.balance_transaction_id == transaction["id"])).all()
    for charge in charges:
        note_fee(session, charge, transaction, payload)
    mark(payload, "processed" if charges else "ignored")
