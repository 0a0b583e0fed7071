"""PayPal: PAYMENT.CAPTURE.* events → ledger. No Flask here (verification: ``signature``).

Processing is idempotent on the capture id (one donation), refund id (one refund entry) and
capture id again for a reversal (one chargeback). ``custom_id`` is ``CAMPAIGN/CITY``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.parse

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...campaigns.models import Campaign, City, CityStatus
from ...errors import BadRequest, InvalidInput
from ...ledger import EntryKind, LedgerEntry, NewEntry, record, reverse
from ...storage.database import Base, UTCDateTime, utcnow
from ...storage.sql import insert_ignore
from ..inbox import waiting
from ..inbox.archive import InboundPayload, claim_campaign, mark
from ..inbox.receive import receive
from .client import from_paypal
from .orders import fee_covered
from .signature import parse_event

log = logging.getLogger(__name__)
STREAM = "paypal"
DONE = {"processed", "ignored"}


class PaypalCapture(Base):
    """One PayPal capture: pending, completed or denied (the facts only accumulate)."""
    __tablename__ = "paypal_capture"

    id: Mapped[int] = mapped_column(primary_key=True)
    capture_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[str | None] = mapped_column(String(64))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    denied: Mapped[bool] = mapped_column(Boolean, default=False)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def campaign_hint(session: Session, event: dict) -> int | None:
    campaign, _city = _place(session, event["resource"].get("custom_id"))
    if campaign is not None:
        return campaign.id
    row = _capture_row(session, _capture_id(event["resource"]))
    return row.campaign_id if row is not None else None


# --- processing -----------------------------------------------------------------------------

def process(session: Session, payload: InboundPayload) -> None:
    if (payload.meta or {}).get("source") == ORDER_CAPTURE:
        _order_captured(session, payload)
        return
    event = parse_event(payload.body)
    handler = HANDLERS.get(event["event_type"])
    if handler is None:
        mark(payload, "ignored")
        return
    if any(stream == STREAM and status in DONE for stream, status in session.execute(
            _SAME_EVENT, {"event_id": event["id"], "payload_id": payload.id})):
        mark(payload, "duplicate")
        return
    status, error = handler(session, payload, event, event["resource"])
    if status != "parked":
        waiting.unpark(session, payload)
    mark(payload, status, error)


# By event id alone, so the external_id index finds the few rows (with the stream in the WHERE
# clause SQLite walks the (stream, received_at) index: every PayPal payload ever archived).
_SAME_EVENT = select(InboundPayload.stream, InboundPayload.status).where(
    InboundPayload.external_id == bindparam("event_id"), InboundPayload.id != bindparam("payload_id"))

Outcome = tuple[str, str | None]
ORDER_CAPTURE = "order-capture"


def receive_order_capture(session: Session, order: dict) -> None:
    """PayPal's answer to our own capture call, through the inbox like any inbound body. The
    webhook for the same capture later changes nothing."""
    order_id = _str(order.get("id")) or "unknown"
    receive(session, STREAM, json.dumps(order).encode(), lambda payload: process(session, payload),
            content_type="application/json", external_id=f"order:{order_id}",
            meta={"source": ORDER_CAPTURE})


def order_captures(body: bytes) -> list[str]:
    """The capture ids in an archived captured order (none when it is not one)."""
    try:
        order = json.loads(body)
    except ValueError:
        return []
    units = order.get("purchase_units") if isinstance(order, dict) else None
    return [capture["id"] for unit in units or [] if isinstance(unit, dict)
            for capture in ((unit.get("payments") or {}).get("captures") or [])
            if isinstance(capture, dict) and isinstance(capture.get("id"), str)]


def _order_captured(session: Session, payload: InboundPayload) -> None:
    """Each capture in a captured order, as if its PAYMENT.CAPTURE.* event had come."""
    try:
        order = json.loads(payload.body)
    except ValueError:
        raise BadRequest("the archived order is not JSON") from None
    outcomes = []
    for unit in order.get("purchase_units") or []:
        for capture in ((unit.get("payments") or {}).get("captures") or []):
            if capture.get("status") in {"COMPLETED", "PENDING", "DENIED"}:
                # The order's own captures do not repeat its id; its webhook's capture does.
                capture = {"custom_id": unit.get("custom_id"), "supplementary_data": {
                    "related_ids": {"order_id": order.get("id")}}, **capture}
                event = {"id": payload.external_id, "event_type": f"PAYMENT.CAPTURE.{capture['status']}",
                         "create_time": capture.get("create_time")}
                outcomes.append(_capture(session, payload, event, capture))
    status, error = outcomes[0] if len(outcomes) == 1 else ("ignored", "no single capture in the order")
    mark(payload, status, error)


def _capture(session: Session, payload: InboundPayload, event: dict, capture: dict) -> Outcome:
    """COMPLETED → donation; PENDING → noted, not counted; DENIED → cleared or reversed."""
    capture_id = _str(capture.get("id"))
    if not capture_id:
        raise InvalidInput("the capture has no id")
    campaign, city = _place(session, capture.get("custom_id"))
    row = _capture_row(session, capture_id)
    if row is None:
        if campaign is None:
            log.warning("PayPal capture %s names no known campaign (custom_id %r)", capture_id,
                        capture.get("custom_id"))
            if isinstance(capture.get("custom_id"), str):
                claim_campaign(payload, capture["custom_id"].partition("/")[0])
            return "unknown_campaign", f"custom_id {capture.get('custom_id')!r} names no campaign"
        amount = from_paypal(capture.get("amount"))
        session.execute(insert_ignore(
            session, PaypalCapture.__table__, ["capture_id"], capture_id=capture_id,
            order_id=_order_id(capture), campaign_id=campaign.id,
            city_id=city.id if city else None, amount_minor=amount.minor,
            currency=amount.currency, status="pending", denied=False, updated_at=utcnow()))
        row = _capture_row(session, capture_id)
    payload.campaign_id = row.campaign_id
    kind = event["event_type"]
    if kind == "PAYMENT.CAPTURE.DENIED":
        row.denied, row.updated_at = True, utcnow()
        if row.status == "pending":
            row.status = "denied"
    elif kind == "PAYMENT.CAPTURE.COMPLETED":
        amount = from_paypal(capture.get("amount"))
        meta = {"capture": capture_id, "order": row.order_id, "event": event["id"]}
        if covered := fee_covered(session, row.order_id or _order_id(capture), amount):
            meta["fee_covered_minor"] = covered
        entry = record(session, NewEntry(
            campaign_id=row.campaign_id, city_id=row.city_id, stream=STREAM,
            external_id=f"capture:{capture_id}", amount=amount,
            occurred_at=_time(capture.get("create_time")) or _time(event.get("create_time")),
            fee_minor=_fee(capture, amount.currency), payload_id=payload.id, anonymous=True,
            meta=meta)).entry
        row.status, row.entry_id, row.updated_at = "completed", entry.id, utcnow()
    if row.entry_id is not None and row.denied:
        # Denied after it was counted (in whichever order the two events came): undo it once.
        reverse(session, row.entry_id, reason=f"PayPal capture {capture_id} denied", stream=STREAM)
    if row.entry_id is not None:
        waiting.wake(session, [_key(capture_id)], process)
    return ("pending" if row.status == "pending" else "processed"), None


def _take_back(session: Session, payload: InboundPayload, capture_id: str, money: dict | None,
               *, kind: EntryKind, external_id: str, when, meta: dict) -> Outcome:
    """Money leaving a counted capture (refund or chargeback): a negative entry linked to it,
    or parked until the capture itself arrives."""
    home = _home(session, capture_id)
    if home is None:
        return _park(session, payload, capture_id)
    payload.campaign_id = home.campaign_id
    record(session, NewEntry(
        campaign_id=home.campaign_id, city_id=home.city_id, stream=STREAM,
        external_id=external_id, amount=-_magnitude(from_paypal(money)), kind=kind,
        occurred_at=_time(when), reverses_id=home.id, payload_id=payload.id,
        anonymous=home.anonymous, meta=meta))
    return "processed", None


def _refund(session: Session, payload: InboundPayload, event: dict, refund: dict) -> Outcome:
    refund_id, capture_id = _str(refund.get("id")), _capture_id(refund)
    if not refund_id or not capture_id:
        raise InvalidInput("the refund names no capture")
    return _take_back(session, payload, capture_id, refund.get("amount"), kind=EntryKind.refund,
                      external_id=f"refund:{refund_id}", when=refund.get("create_time"),
                      meta={"refund": refund_id, "capture": capture_id})


def _reversed(session: Session, payload: InboundPayload, event: dict, resource: dict) -> Outcome:
    """A chargeback: the resource is the reversal (linked "up" to the capture) or the capture."""
    capture_id = _capture_id(resource)
    if not capture_id:
        raise InvalidInput("the reversal names no capture")
    return _take_back(session, payload, capture_id, resource.get("amount"),
                      kind=EntryKind.chargeback, external_id=f"chargeback:{capture_id}",
                      when=resource.get("update_time"),
                      meta={"capture": capture_id, "resource": _str(resource.get("id"))})


HANDLERS = {
    "PAYMENT.CAPTURE.COMPLETED": _capture,
    "PAYMENT.CAPTURE.PENDING": _capture,
    "PAYMENT.CAPTURE.DENIED": _capture,
    "PAYMENT.CAPTURE.REFUNDED": _refund,
    "PAYMENT.CAPTURE.REVERSED": _reversed,
}


# --- helpers --------------------------------------------------------------------------------

def _magnitude(money):
    """PayPal may sign reversal amounts either way; the entry's kind gives the sign."""
    return -money if money.minor < 0 else money


def _key(capture_id: str) -> str:
    return f"paypal:capture:{capture_id}"


def _park(session: Session, payload: InboundPayload, capture_id: str) -> Outcome:
    waiting.park(session, payload, [_key(capture_id)])
    return "parked", "waiting for the capture this refers to"


def _capture_row(session: Session, capture_id: str | None) -> PaypalCapture | None:
    if not capture_id:
        return None
    return session.scalar(select(PaypalCapture).where(PaypalCapture.capture_id == capture_id))


def _home(session: Session, capture_id: str) -> LedgerEntry | None:
    row = _capture_row(session, capture_id)
    if row is None or row.entry_id is None:
        return None
    moved = session.scalar(select(LedgerEntry).where(
        LedgerEntry.stream == "adjustment", LedgerEntry.external_id == f"assign:{row.entry_id}"))
    return moved or session.get(LedgerEntry, row.entry_id)


def _capture_id(resource: dict) -> str | None:
    """A refund or reversal links "up" to its capture; a capture is its own."""
    for link in resource.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up" and isinstance(link.get("href"), str):
            path = urllib.parse.urlsplit(link["href"]).path.rstrip("/").split("/")
            if len(path) >= 2 and path[-2] == "captures":
                return path[-1]
    if resource.get("status") in {"COMPLETED", "PENDING", "DENIED", "REVERSED", "REFUNDED",
                                  "PARTIALLY_REFUNDED"} and "seller_receivable_breakdown" in resource:
        return _str(resource.get("id"))
    return None


def _order_id(capture: dict) -> str | None:
    related = (capture.get("supplementary_data") or {}).get("related_ids") or {}
    return _str(related.get("order_id")) if isinstance(related, dict) else None


def _place(session: Session, custom_id: object) -> tuple[Campaign | None, City | None]:
    if not isinstance(custom_id, str) or not custom_id:
        return None, None
    campaign_slug, _, city_slug = custom_id.partition("/")
    campaign = session.scalar(select(Campaign).where(Campaign.slug == campaign_slug))
    if campaign is None:
        return None, None
    city = session.scalar(select(City).where(
        City.campaign_id == campaign.id, City.slug == city_slug,
        City.status == CityStatus.approved)) if city_slug else None
    return campaign, city  # unknown city: the campaign's unassigned queue


def _fee(capture: dict, currency: str) -> int | None:
    breakdown = capture.get("seller_receivable_breakdown")
    fee = breakdown.get("paypal_fee") if isinstance(breakdown, dict) else None
    if not isinstance(fee, dict) or str(fee.get("currency_code", "")).upper() != currency:
        return None
    return from_paypal(fee).minor


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else None
