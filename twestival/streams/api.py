"""The JSON API stream: any other system posts donations with a bearer token and an
Idempotency-Key. A repeated key with the same body gets the first answer again; with a
different body it is refused, so a retry can never turn into a second, different gift."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..accounts.models import ApiToken
from ..campaigns.directory import CampaignRef, CityRef
from ..campaigns.models import Campaign, City
from ..storage.database import Base, UTCDateTime, utcnow
from ..errors import BadRequest, DomainError, InvalidInput, NotFound
from ..ledger import NewEntry, record
from ..ledger.models import LedgerEntry
from ..storage.sql import prepared_insert_ignore
from ..money import Money, MoneyError, parse
from .inbox.archive import InboundPayload, mark
from .jsonbody import parse_object, text_field

STREAM = "api"
KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
FIELDS = {"amount", "currency", "donor_name", "message", "anonymous", "occurred_at"}
FUTURE_SLACK = dt.timedelta(hours=24)
# [0-9] and [A-Z], not \d and \w: those match other scripts' digits and letters too.
AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
CURRENCY_RE = re.compile(r"[A-Z]{3}")


class IdempotencyMismatch(DomainError):
    status = 422


class ApiIdempotency(Base):
    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict] = mapped_column(JSON)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


_idem = ApiIdempotency.__table__.c
_EARLIER = select(_idem.request_hash, _idem.response).where(
    _idem.token_id == bindparam("token_id"), _idem.key == bindparam("key"))


def check_key(key: str | None) -> str:
    if not key:
        raise BadRequest("the Idempotency-Key header is required")
    if not KEY_RE.fullmatch(key):
        raise BadRequest("Idempotency-Key must be 1 to 255 printable ASCII characters")
    return key


def _occurred_at(data: dict) -> dt.datetime | None:
    value = data.get("occurred_at")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("occurred_at must be an ISO 8601 string")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"occurred_at {value[:40]!r} is not an ISO 8601 date-time") from None
    if when.tzinfo is None:
        raise InvalidInput("occurred_at needs a UTC offset, e.g. 2026-02-12T20:15:00+00:00")
    if when > utcnow() + FUTURE_SLACK:
        raise InvalidInput("occurred_at is in the future")
    return when


def _amount(data: dict) -> Money:
    """The strict contract README states: other programs send exactly what they mean, so
    nothing is read generously (a sign, spaces, "12." or a digit of another script)."""
    if "amount" not in data:
        raise InvalidInput("amount is required")
    if "currency" not in data:
        raise InvalidInput("currency is required")
    amount, currency = data["amount"], data["currency"]
    if isinstance(amount, (int, float)) and not isinstance(amount, bool):
        raise InvalidInput('send amount as a decimal string such as "12.50", not a JSON number')
    if not isinstance(amount, str):
        raise InvalidInput('amount must be a decimal string such as "12.50"')
    if not AMOUNT_RE.fullmatch(amount):
        if amount.startswith("-") and AMOUNT_RE.fullmatch(amount[1:]):
            raise InvalidInput("amount must not be negative")
        raise InvalidInput(f"amount {amount[:40]!r} is not a number written as \"12.50\": "
                           "ASCII digits with an optional dot and decimals, no sign or spaces")
    if not isinstance(currency, str) or not CURRENCY_RE.fullmatch(currency):
        raise InvalidInput("currency must be a three-letter ISO 4217 code in capitals, such as "
                           f"\"GBP\", not {str(currency)[:40]!r}")
    try:
        return parse(amount, currency)
    except MoneyError as exc:
        raise InvalidInput(exc.message) from None


def _response(entry: LedgerEntry, campaign: CampaignRef, city: CityRef) -> dict:
    return {
        "id": entry.id,
        "campaign": campaign.slug,
        "city": city.slug,
        "amount": Money(entry.amount_minor, entry.currency).major_str(),
        "amount_minor": entry.amount_minor,
        "currency": entry.currency,
        "city_minor": entry.city_minor,
        "city_currency": city.currency,
        "reporting_minor": entry.reporting_minor,
        "reporting_currency": entry.reporting_currency,
        "fx_rate": entry.fx_rate,
        "fx_date": entry.fx_date.isoformat(),
        "donor_name": entry.donor_name,
        "message": entry.message,
        "anonymous": entry.anonymous,
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
    }


def request_hash(campaign: CampaignRef, city: CityRef, data: dict) -> str:
    canonical = json.dumps([campaign.slug, city.slug, data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit_donation(session: Session, token: ApiToken, campaign: CampaignRef, city: CityRef,
                    key: str, payload: InboundPayload) -> tuple[int, dict]:
    """Record one API donation from an archived payload; returns (HTTP status, body)."""
    key = check_key(key)
    data = parse_object(payload.body, FIELDS)
    digest = request_hash(campaign, city, data)
    earlier = session.execute(_EARLIER, {"token_id": token.id, "key": key}).first()
    if earlier is not None:
        if earlier.request_hash != digest:
            raise IdempotencyMismatch(
                "this Idempotency-Key was already used with a different request body")
        mark(payload, "duplicate")
        return 200, earlier.response
    anonymous = data.get("anonymous", False)
    if not isinstance(anonymous, bool):
        raise InvalidInput("anonymous must be true or false")
    new = NewEntry(
        campaign_id=campaign.id, city_id=city.id, stream=STREAM,
        external_id=f"token{token.id}:{key}", amount=_amount(data),
        occurred_at=_occurred_at(data), donor_name=text_field(data, "donor_name", 200),
        message=text_field(data, "message", 2000), anonymous=anonymous, payload_id=payload.id)
    entry = record(session, new).entry
    body = _response(entry, campaign, city)
    stored = session.execute(
        prepared_insert_ignore(session, ApiIdempotency.__table__, ("token_id", "key")),
        dict(token_id=token.id, key=key, request_hash=digest, status_code=201, response=body,
             entry_id=entry.id, created_at=utcnow())).scalar()
    mark(payload, "processed")
    return (201, body) if stored is not None else (200, body)


def process(session: Session, payload: InboundPayload) -> None:
    """Replay an archived API call: its Idempotency-Key answers a repeat with the first result."""
    meta = payload.meta or {}
    token = session.get(ApiToken, meta.get("token_id"))
    campaign = session.get(Campaign, payload.campaign_id)
    if token is None or campaign is None:
        raise NotFound("the archived API call names a token or campaign that no longer exists")
    city = session.scalar(select(City).where(City.campaign_id == campaign.id,
                                             City.slug == meta.get("city")))
    if city is None:
        raise NotFound(f"the archived API call names no known city ({meta.get('city')!r})")
    submit_donation(session, token, campaign, city, payload.external_id, payload)
