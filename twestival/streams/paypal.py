"""PayPal: webhook verification and PAYMENT.CAPTURE.* events → ledger. No Flask here.

Verification (PayPal's algorithm): the signed message is
``transmission_id|transmission_time|webhook_id|crc32(raw body)`` with the CRC as an unsigned
decimal; the signature (PAYPAL-TRANSMISSION-SIG, base64) is RSA-SHA256 with PKCS#1 v1.5 by the
certificate at PAYPAL-CERT-URL. That URL is only fetched from PayPal's own origins, and the
certificate must chain to a trusted anchor, be valid now and be issued to PayPal's message
verification host. The algorithm is fixed: the unsigned PAYPAL-AUTH-ALGO header never chooses
it. ``PAYPAL_VERIFY=online`` asks PayPal's verify-webhook-signature endpoint instead.

Processing is idempotent on the capture id (one donation), refund id (one refund entry) and
capture id again for a reversal (one chargeback). ``custom_id`` is ``CAMPAIGN/CITY``.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
import re
import threading
import time
import urllib.parse
import warnings
import zlib
from collections.abc import Mapping

import certifi
import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from sqlalchemy import BigInteger, Boolean, ForeignKey, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..campaigns.models import Campaign, City, CityStatus
from ..database import Base, UTCDateTime, utcnow
from ..errors import BadRequest, InvalidInput
from ..ledger import EntryKind, LedgerEntry, NewEntry, record, reverse
from ..ledger.sql import insert_ignore
from . import waiting
from .archive import InboundPayload, archive, claim_campaign, mark
from .paypal_api import ProviderUnavailable, Settings, from_paypal, verify_online
from .registry import register

__all__ = ["CertFetcher", "ProviderUnavailable", "Settings", "SignatureError", "process", "verify"]

log = logging.getLogger(__name__)
STREAM = "paypal"
CERT_CACHE_SECONDS = 24 * 3600
CERT_MAX_BYTES = 64 * 1024
DONE = {"processed", "ignored"}
REQUIRED_HEADERS = ("PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME",
                    "PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL")


class SignatureError(BadRequest):
    """The PAYPAL-* headers do not prove the body came from PayPal."""


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


# --- certificates ---------------------------------------------------------------------------

class CertFetcher:
    """Fetches PayPal signing certificates from allowed origins only, and caches them.

    ``origins`` come from the settings on every call, so a test can allow its own local server
    without replacing this code; production keeps PayPal's https origins.
    """

    def __init__(self, client: httpx.Client | None = None):
        self.client = client or httpx.Client(follow_redirects=False)
        self._cache: dict[str, tuple[list[x509.Certificate], float]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, origins: tuple[str, ...]) -> list[x509.Certificate]:
        check_cert_url(url, origins)
        with self._lock:
            cached = self._cache.get(url)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        try:
            response = self.client.get(url, timeout=10.0)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"PayPal certificate could not be fetched "
                                      f"({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"PayPal certificate fetch answered {response.status_code}")
        if response.status_code != 200 or len(response.content) > CERT_MAX_BYTES:
            raise SignatureError("the PayPal certificate URL did not give a certificate")
        try:
            certs = x509.load_pem_x509_certificates(response.content)
        except ValueError:
            raise SignatureError("the PayPal certificate URL did not give a PEM certificate") from None
        with self._lock:
            self._cache[url] = (certs, time.monotonic() + CERT_CACHE_SECONDS)
        return certs


def check_cert_url(url: str, origins: tuple[str, ...]) -> None:
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if (parts.username or parts.password or not parts.hostname
            or origin not in {o.lower().rstrip("/") for o in origins}):
        raise SignatureError("PAYPAL-CERT-URL is not on one of PayPal's hosts")


@functools.cache
def trust_anchors(ca_file: str | None) -> Store:
    """Anchors from PAYPAL_CA_FILE (PEM or DER), else the public roots bundled with certifi."""
    with open(ca_file or certifi.where(), "rb") as handle:
        data = handle.read()
    if b"-----BEGIN" not in data:
        return Store([x509.load_der_x509_certificate(data)])
    certs = []
    for block in re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S):
        with warnings.catch_warnings():
            # A few old public roots break RFC 5280 rules that newer cryptography refuses.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue  # a root this library cannot read is not one PayPal chains to
    return Store(certs)


def check_chain(certs: list[x509.Certificate], settings: Settings,
                now: dt.datetime) -> x509.Certificate:
    """The leaf, once it chains to an anchor, is valid at ``now`` and names PayPal's host."""
    if not certs:
        raise SignatureError("the PayPal certificate URL gave no certificate")
    leaf, intermediates = certs[0], certs[1:]
    for subject in settings.cert_subjects:
        verifier = (PolicyBuilder().store(trust_anchors(settings.ca_file)).time(now)
                    .build_server_verifier(x509.DNSName(subject)))
        try:
            verifier.verify(leaf, intermediates)
            return leaf
        except VerificationError:
            continue
    raise SignatureError("the PayPal certificate is not trusted, has expired or is not PayPal's")


# --- verification ---------------------------------------------------------------------------

def signed_message(transmission_id: str, transmission_time: str, webhook_id: str,
                   body: bytes) -> bytes:
    # zlib.crc32 is unsigned in Python 3: the decimal PayPal signs (e.g. 2771810304).
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


def verify_offline(body: bytes, headers: Mapping[str, str], settings: Settings,
                   fetcher: CertFetcher) -> None:
    values = {name: headers.get(name) for name in REQUIRED_HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SignatureError(f"the {missing[0]} header is missing")
    try:
        signature = base64.b64decode(values["PAYPAL-TRANSMISSION-SIG"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("PAYPAL-TRANSMISSION-SIG is not base64") from None
    certs = fetcher.get(values["PAYPAL-CERT-URL"], settings.cert_origins)
    leaf = check_chain(certs, settings, utcnow())
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the PayPal certificate does not hold an RSA key")
    message = signed_message(values["PAYPAL-TRANSMISSION-ID"], values["PAYPAL-TRANSMISSION-TIME"],
                             settings.webhook_id, body)
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("PayPal signature does not verify") from None


def verify(body: bytes, headers: Mapping[str, str], settings: Settings,
           fetcher: CertFetcher) -> dict:
    """Verify a delivery the configured way; returns the parsed event."""
    if settings.verify == "online":
        event = parse_event(body)
        if not verify_online(settings, fetcher.client, headers, event):
            raise SignatureError("PayPal did not confirm the webhook signature")
        return event
    verify_offline(body, headers, settings, fetcher)
    return parse_event(body)


def parse_event(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not a JSON PayPal event") from None
    if (not isinstance(event, dict) or not isinstance(event.get("id"), str)
            or not isinstance(event.get("event_type"), str)
            or not isinstance(event.get("resource"), dict)):
        raise InvalidInput("body is not a PayPal event (id, event_type and resource are required)")
    return event


def campaign_hint(session: Session, event: dict) -> int | None:
    campaign, _city = _place(session, event["resource"].get("custom_id"))
    if campaign is not None:
        return campaign.id
    row = _capture_row(session, _capture_id(event["resource"]))
    return row.campaign_id if row is not None else None


# --- processing -----------------------------------------------------------------------------

@register(STREAM)
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


def record_order_capture(session: Session, order: dict) -> InboundPayload:
    """Archive PayPal's answer to our own capture call (flushes; the caller commits, then
    calls ``process``). The webhook for the same capture later changes nothing."""
    order_id = _str(order.get("id")) or "unknown"
    return archive(session, STREAM, json.dumps(order).encode(), content_type="application/json",
                   external_id=f"order:{order_id}", meta={"source": ORDER_CAPTURE})


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
                capture = {"custom_id": unit.get("custom_id"), **capture}
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
        entry = record(session, NewEntry(
            campaign_id=row.campaign_id, city_id=row.city_id, stream=STREAM,
            external_id=f"capture:{capture_id}", amount=amount,
            occurred_at=_time(capture.get("create_time")) or _time(event.get("create_time")),
            fee_minor=_fee(capture, amount.currency), payload_id=payload.id, anonymous=True,
            meta={"capture": capture_id, "order": row.order_id, "event": event["id"]})).entry
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
