"""What Stripe tells us about a payment, kept beside the ledger: the Checkout Session (one
donation) and the charge behind it (its PaymentIntent, fee and currency), so refunds and
disputes that name only a charge or an intent find their donation."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ...storage.database import Base, UTCDateTime, utcnow


class StripeCheckout(Base):
    """One Checkout Session: pending (asynchronous payment under way), paid or failed."""
    __tablename__ = "stripe_checkout"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_payload.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


CHECKOUT_COLUMNS = tuple(c.key for c in StripeCheckout.__table__.columns)


class StripeCharge(Base):
    """Which PaymentIntent a charge belongs to, learnt from any event that shows both, and
    its balance transaction: where Stripe's fee is told (fetched later, see ``fees``)."""
    __tablename__ = "stripe_charge"

    charge_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    payment_intent_id: Mapped[str] = mapped_column(String(255), index=True)
    balance_transaction_id: Mapped[str | None] = mapped_column(String(255), index=True)
    fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    fee_currency: Mapped[str | None] = mapped_column(String(3))
    # The balance transaction's exchange_rate (charge currency -> fee_currency) and its date,
    # when Stripe converted the charge: the fee waits here for its donation with its rate.
    fee_exchange_rate: Mapped[str | None] = mapped_column(String(32))
    fee_rate_date: Mapped[dt.date | None] = mapped_column(Date)
