"""What the donor chose for a PayPal order, kept here before they are sent to approve it.

PayPal's capture (its webhook or our own capture call, whichever comes first) carries the
amount only, not that part of it covered the fees. The row is written, keyed on PayPal's order
id, in the same commit as the donor is redirected, so it exists before any capture of that
order can: either arrival finds it. No Flask here.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...money import Money
from ...storage.database import Base, UTCDateTime, utcnow
from ...storage.sql import insert_ignore


class PaypalOrder(Base):
    __tablename__ = "paypal_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    fee_covered_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def remember(session: Session, order_id: str, campaign_id: int, city_id: int, amount: Money,
             fee_covered_minor: int) -> None:
    """The caller commits before redirecting the donor to PayPal. The same order again
    (PayPal answers a form sent twice with the same order) changes nothing."""
    session.execute(insert_ignore(
        session, PaypalOrder.__table__, ["order_id"], order_id=order_id, campaign_id=campaign_id,
        city_id=city_id, amount_minor=amount.minor, currency=amount.currency,
        fee_covered_minor=fee_covered_minor, created_at=utcnow()))


def fee_covered(session: Session, order_id: str | None, amount: Money) -> int:
    """The part of a captured ``amount`` the donor added for the fees (0 when none, or when
    the capture is not the amount the donor chose: then we cannot tell)."""
    if not order_id:
        return 0
    order = session.scalar(select(PaypalOrder).where(PaypalOrder.order_id == order_id))
    if order is None or (order.amount_minor, order.currency) != (amount.minor, amount.currency):
        return 0
    return order.fee_covered_minor
