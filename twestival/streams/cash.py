"""Cash and cheques counted at the venue, recorded by the city's volunteers and organisers.

Such money is provisional (on the board at once, marked as such) until a coordinator confirms
it or it is matched to the bank deposit. Each count carries the phone's own idempotency key,
scoped to the city, so an entry queued offline and sent again is recorded exactly once.
"""
from __future__ import annotations

import dataclasses
import re

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from .. import audit
from ..campaigns.models import Campaign, City, CityStatus
from ..errors import BadRequest, Conflict, InvalidInput, NotFound
from ..languages import N_
from ..ledger import NewEntry, Recorded, confirm, record, reverse
from ..ledger.models import EntryConfirmation, EntryKind, LedgerEntry
from ..money import Money, MoneyError, parse
from .inbox.archive import InboundPayload, mark
from .jsonbody import parse_object, text_field

STREAM = "cash"
KINDS = ("cash", "cheque")
KEY_RE = re.compile(r"[A-Za-z0-9_-]{8,100}")
FIELDS = {"key", "amount", "currency", "kind", "counted_by", "witness", "note"}


@dataclasses.dataclass(frozen=True)
class CashCount:
    key: str
    amount: Money
    kind: str
    counted_by: str
    witness: str
    note: str | None = None


def parse_count(body: bytes) -> CashCount:
    """The JSON body the cash page sends (and queues while offline)."""
    data = parse_object(body, FIELDS)
    key = data.get("key")
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise BadRequest("key must be 8 to 100 letters, digits, '-' or '_' (a UUID)")
    if isinstance(data.get("amount"), float):
        raise InvalidInput('send amount as text such as "12.50"')
    try:
        amount = parse(data.get("amount"), data.get("currency"))
    except MoneyError as exc:
        raise InvalidInput(exc.message) from None
    if amount.minor <= 0:
        raise InvalidInput(N_("the amount counted must be more than zero"))
    kind = data.get("kind", "cash")
    if kind not in KINDS:
        raise InvalidInput(N_("kind must be cash or cheque"))
    counted_by = text_field(data, "counted_by", 200, required=True)
    witness = text_field(data, "witness", 200, required=True)
    if counted_by.casefold() == witness.casefold():
        raise InvalidInput(N_("the witness must be a second person, not the one who counted"))
    return CashCount(key=key, amount=amount, kind=kind, counted_by=counted_by, witness=witness,
                     note=text_field(data, "note", 500))


def external_id(city: City, key: str) -> str:
    # Scoped to the city: another city's phone can never hit (or reveal) this entry by key.
    return f"city{city.id}:{key}"


def record_count(session: Session, city: City, count: CashCount, *, by_user_id: int | None,
                 payload_id: int | None = None) -> Recorded:
    if city.status is not CityStatus.approved:
        raise Conflict(N_("%(city)s is not approved yet: no money can be recorded for it"),
                       city=city.name)
    result = record(session, NewEntry(
        campaign_id=city.campaign_id, city_id=city.id, stream=STREAM,
        external_id=external_id(city, count.key), amount=count.amount, provisional=True,
        created_by_id=by_user_id, payload_id=payload_id, note=count.note,
        meta={"kind": count.kind, "counted_by": count.counted_by, "witness": count.witness}))
    entry = result.entry
    if not result.created and (entry.amount_minor, entry.currency) != (count.amount.minor,
                                                                         count.amount.currency):
        raise Conflict(N_("this entry key was already used for a different amount"))
    return result


def process_count(session: Session, city: City, payload: InboundPayload, *,
                  by_user_id: int | None) -> Recorded:
    """Record one archived count; the payload is marked processed, or duplicate on a resend."""
    count = parse_count(payload.body)
    payload.external_id = external_id(city, count.key)
    result = record_count(session, city, count, by_user_id=by_user_id, payload_id=payload.id)
    mark(payload, "processed" if result.created else "duplicate")
    return result


def process(session: Session, payload: InboundPayload) -> None:
    """Replay: the archived body plus who sent it for which city (kept in the payload meta)."""
    meta = payload.meta or {}
    city = session.get(City, meta.get("city_id"))
    if city is None:
        raise NotFound("the archived cash entry names no known city")
    process_count(session, city, payload, by_user_id=meta.get("user_id"))


def to_json(entry: LedgerEntry, created: bool) -> dict:
    meta = entry.meta or {}
    return {"id": entry.id, "created": created, "amount": Money(entry.amount_minor, entry.currency)
            .major_str(), "currency": entry.currency, "city_minor": entry.city_minor,
            "kind": meta.get("kind"), "counted_by": meta.get("counted_by"),
            "witness": meta.get("witness"), "note": entry.note, "provisional": entry.provisional,
            "recorded_at": entry.recorded_at.isoformat()}


@dataclasses.dataclass(frozen=True)
class CashLine:
    entry: LedgerEntry
    confirmed: bool
    reversed_by: LedgerEntry | None
    city: City

    @property
    def open(self) -> bool:
        return self.entry.kind is not EntryKind.reversal and self.reversed_by is None


def _lines(session: Session, *where) -> list[CashLine]:
    reversal = aliased(LedgerEntry)
    rows = session.execute(
        select(LedgerEntry, EntryConfirmation.id, reversal, City)
        .join(City, City.id == LedgerEntry.city_id)
        .outerjoin(EntryConfirmation, EntryConfirmation.entry_id == LedgerEntry.id)
        .outerjoin(reversal, (reversal.reverses_id == LedgerEntry.id)
                   & (reversal.kind == EntryKind.reversal))
        .where(LedgerEntry.stream == STREAM, *where)
        .order_by(LedgerEntry.recorded_at.desc(), LedgerEntry.id.desc())).all()
    return [CashLine(entry, confirmation is not None, rev, city)
            for entry, confirmation, rev, city in rows]


def city_lines(session: Session, city: City) -> list[CashLine]:
    return _lines(session, LedgerEntry.city_id == city.id)


def awaiting_confirmation(session: Session, campaign: Campaign) -> list[CashLine]:
    return [line for line in _lines(session, LedgerEntry.campaign_id == campaign.id,
                                    LedgerEntry.provisional, LedgerEntry.kind != EntryKind.reversal)
            if not line.confirmed and line.reversed_by is None]


def _own_entry(session: Session, entry_id: int, *, campaign: Campaign,
               city: City | None = None) -> LedgerEntry:
    entry = session.get(LedgerEntry, entry_id)
    # Another city's (or campaign's) entry looks exactly like a missing one.
    if (entry is None or entry.stream != STREAM or entry.campaign_id != campaign.id
            or (city is not None and entry.city_id != city.id)):
        raise NotFound(f"no cash entry {entry_id} here")
    return entry


def reverse_count(session: Session, city: City, entry_id: int, *, reason: str,
                  by_user_id: int | None) -> Recorded:
    entry = _own_entry(session, entry_id, campaign=city.campaign, city=city)
    done = reverse(session, entry.id, reason=reason, by_user_id=by_user_id)
    if done.created:
        _audit(session, by_user_id, "cash.reversed", entry, reason=reason)
    return done


def confirm_count(session: Session, campaign: Campaign, entry_id: int, *,
                  by_user_id: int | None) -> bool:
    entry = _own_entry(session, entry_id, campaign=campaign)
    confirmed = confirm(session, entry.id, method="coordinator", by_user_id=by_user_id)
    if confirmed:
        _audit(session, by_user_id, "cash.confirmed", entry)
    return confirmed


def _audit(session: Session, by_user_id: int | None, action: str, entry: LedgerEntry,
           reason: str | None = None) -> None:
    audit.record(session, by_user_id, action, subject=f"entry {entry.id}",
                 campaign_id=entry.campaign_id, city_id=entry.city_id, reason=reason,
                 details={"amount": Money(entry.amount_minor, entry.currency).major_str(),
                          "currency": entry.currency})
