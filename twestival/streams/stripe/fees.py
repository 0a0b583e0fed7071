"""Stripe's fee on each card donation, fetched after the fact. No Flask here.

Checkout events carry no fee; a charge names its balance transaction, and only that object
(``GET /v1/balance_transactions/<id>``) says what Stripe kept. The scheduler asks for the ones
we lack, outside any database transaction (a network call must never hold SQLite's write
lock), archives each answer verbatim like any inbound body, then processes it: the fee lands
beside its donation (``ledger.learn_fee``), for the statement's fee column. A fee settled in
another currency than the donation is kept as stated and converted at the balance
transaction's own ``exchange_rate`` (``settlement.fee_rate``).
"""
from __future__ import annotations

import logging

import stripe
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..inbox.archive import InboundPayload, archive
from .events import BALANCE_TRANSACTION, STREAM, process
from .models import StripeCharge

log = logging.getLogger(__name__)
BATCH = 100


def client(api_key: str, api_base: str | None = None) -> stripe.StripeClient:
    return stripe.StripeClient(api_key, base_addresses={"api": api_base} if api_base else {},
                               max_network_retries=2)


def fetch(session: Session, stripe_client: stripe.StripeClient,
          limit: int = BATCH) -> list[InboundPayload]:
    """Fetch balance transactions whose fee we lack and archive them (flushes; the caller
    commits, then calls ``process_fetched``)."""
    due = list(session.scalars(
        select(StripeCharge.balance_transaction_id)
        .where(StripeCharge.balance_transaction_id.is_not(None), StripeCharge.fee_minor.is_(None))
        .distinct().order_by(StripeCharge.balance_transaction_id).limit(limit)))
    session.rollback()  # hold no transaction across the network calls
    answers = []
    for transaction_id in due:
        try:
            transaction = stripe_client.v1.balance_transactions.retrieve(transaction_id)
        except stripe.StripeError as exc:
            # Left for the next run (a test-mode id in live mode, Stripe down, ...).
            log.warning("Stripe balance transaction %s not fetched: %s", transaction_id,
                        exc.user_message or type(exc).__name__)
            continue
        response = transaction.last_response
        answers.append((transaction_id, response.body if response else str(transaction)))
    return [archive(session, STREAM, body.encode(), content_type="application/json",
                    external_id=f"balance_transaction:{transaction_id}",
                    meta={"source": BALANCE_TRANSACTION})
            for transaction_id, body in answers]


def process_fetched(session: Session, payloads: list[InboundPayload]) -> int:
    """Process the archived answers; returns how many carried a fee we did not have."""
    for payload in payloads:
        process(session, payload)
    return sum(1 for payload in payloads if payload.status == "processed")
