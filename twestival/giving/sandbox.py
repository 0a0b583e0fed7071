"""The sandbox checkout: a stand-in for Stripe Checkout in test mode, so a demo can take a gift.

It plays Stripe's part only: a session with the gift on it, a payment page that answers to
Stripe's test card numbers, and, when the card "pays", the ``checkout.session.completed``
event Stripe would send, signed with the webhook secret. That event then goes through the very
path a real Stripe delivery takes (verify, archive, process), so the ledger cannot tell the
two apart except by ``livemode: false``, as with any Stripe test-mode payment.

Card numbers only choose the outcome: they are never stored, logged or echoed back, as they
would never reach us from Stripe's hosted page. No Flask here.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import JSON

from ..errors import InvalidInput, NotFound
from ..storage.database import Base, UTCDateTime, utcnow

PAID = "4242424242424242"
# Stripe's test cards and the messages its Checkout page shows for them.
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds",
                         "Your card has insufficient funds."),
}
INCORRECT = ("incorrect_number", None, "Your card number is incorrect.")
NOT_A_TEST_CARD = ("card_declined", "test_mode_live_card",
                   ("Your card was declined. Your request was in test mode, but used a non test "
                    "card."))


class SandboxCheckout(Base):
    """One sandbox Checkout Session: what the donate form asked to be paid."""
    __tablename__ = "sandbox_checkout"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)   # cs_test_…
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    meta: Mapped[dict] = mapped_column(JSON)   # Stripe metadata: campaign, city, donor_name, …
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def open_session(session: Session, campaign_id: int, city_id: int, amount_minor: int,
                 currency: str, metadata: dict[str, str]) -> SandboxCheckout:
    row = SandboxCheckout(id=f"cs_test_{secrets.token_hex(16)}", campaign_id=campaign_id,
                          city_id=city_id, amount_minor=amount_minor, currency=currency,
                          meta=dict(metadata), created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def find(session: Session, checkout_id: str) -> SandboxCheckout:
    row = session.get(SandboxCheckout, checkout_id) if checkout_id.startswith("cs_test_") else None
    if row is None:
        raise NotFound("no such sandbox checkout")
    return row


def card_outcome(number: str) -> tuple[str, str | None, str] | None:
    """None when the card pays; else Stripe's (code, decline code, message)."""
    digits = "".join(number.split())
    if digits == PAID:
        return None
    if digits in DECLINES:
        return DECLINES[digits]
    if not (digits.isdigit() and 12 <= len(digits) <= 19 and _luhn(digits)):
        return INCORRECT
    return NOT_A_TEST_CARD


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def check_email(email: str) -> str:
    email = (email or "").strip()
    if not (3 <= len(email) <= 254 and email.count("@") == 1 and "." in email.split("@")[1]
            and not any(c.isspace() or c in ",;<>\"" for c in email)):
        raise InvalidInput("Please enter a valid email address.")
    return email


def completed_event(row: SandboxCheckout, email: str, *, success_url: str, cancel_url: str,
                    now: dt.datetime | None = None) -> bytes:
    """The ``checkout.session.completed`` body Stripe would send for this session, paid.

    Its ids are derived from the session's, so paying twice (a double click) sends the same
    event, which the webhook path counts once."""
    created = int((now or utcnow()).timestamp())
    tail = hashlib.sha256(row.id.encode()).hexdigest()[:24]
    currency = row.currency.lower()
    session_object = {
        "id": row.id, "object": "checkout.session", "after_expiration": None,
        "allow_promotion_codes": None, "amount_subtotal": row.amount_minor,
        "amount_total": row.amount_minor,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None, "cancel_url": cancel_url,
        "client_reference_id": None, "created": created, "currency": currency,
        "customer": None, "customer_creation": "if_required",
        "customer_details": {"address": None, "email": email, "name": None, "phone": None,
                             "tax_exempt": "none", "tax_ids": []},
        "customer_email": None, "expires_at": created + 86400, "livemode": False,
        "locale": row.meta.get("lang"), "metadata": dict(row.meta), "mode": "payment",
        "payment_intent": f"pi_test_{tail}", "payment_method_options": {},
        "payment_method_types": ["card"], "payment_status": "paid", "setup_intent": None,
        "shipping_address_collection": None, "shipping_details": None, "status": "complete",
        "submit_type": "donate", "subscription": None, "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
    }
    event = {"id": f"evt_test_{tail}", "object": "event", "api_version": "2024-06-20",
             "created": created, "data": {"object": session_object}, "livemode": False,
             "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
             "type": "checkout.session.completed"}
    return json.dumps(event, indent=2).encode()


def signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would put on ``body``."""
    timestamp = int(utcnow().timestamp()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"
