"""Recording money: the one way anything enters the ledger.

``record`` is idempotent on (stream, external_id): a repeat returns the existing entry and
moves no totals, whether it arrives twice in a row or from twenty threads at once (the unique
constraint decides; INSERT ... ON CONFLICT DO NOTHING never raises for the loser).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..campaigns.directory import CampaignRef, CityRef, campaign_by_id, city_by_id
from ..storage.database import as_loaded, utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..money import Money, Rate, convert
from . import chain, fx, limits, totals
from .models import EntryConfirmation, EntryKind, LedgerEntry
from ..storage.sql import insert_ignore, prepared_insert_ignore

NEGATIVE_KINDS = {EntryKind.refund, EntryKind.chargeback, EntryKind.reversal}


@dataclasses.dataclass(frozen=True)
class NewEntry:
    campaign_id: int
    city_id: int | None
    stream: str
    external_id: str
    amount: Money
    kind: EntryKind = EntryKind.donation
    occurred_at: dt.datetime | None = None
    donor_name: str | None = None
    message: str | None = None
    anonymous: bool = False
    provisional: bool = False
    fee_minor: int | None = None
    reverses_id: int | None = None
    payload_id: int | None = None
    created_by_id: int | None = None
    note: str | None = None
    meta: dict | None = None


@dataclasses.dataclass(frozen=True)
class Recorded:
    entry: LedgerEntry
    created: bool


def _check(new: NewEntry) -> None:
    if not new.stream or len(new.stream) > 32:
        raise InvalidInput("stream name is required (at most 32 characters)")
    if not new.external_id or len(new.external_id) > 200:
        raise InvalidInput("external id is required (at most 200 characters)")
    if new.amount.minor == 0:
        raise InvalidInput("amount must not be zero")
    if new.kind is EntryKind.donation and new.amount.minor < 0:
        raise InvalidInput("a donation must be positive")
    # A reversal takes the sign opposite to its original (undoing a chargeback is positive).
    if new.kind in NEGATIVE_KINDS - {EntryKind.reversal} and new.amount.minor > 0:
        raise InvalidInput(f"a {new.kind.value} must be negative")
    if new.donor_name is not None and len(new.donor_name) > 200:
        raise InvalidInput("donor name is too long (at most 200 characters)")
    if new.message is not None and len(new.message) > 2000:
        raise InvalidInput("message is too long (at most 2000 characters)")
    if new.occurred_at is not None and new.occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at must include a time zone offset")


def _rates(session: Session, new: NewEntry, campaign: CampaignRef, city: CityRef | None,
           original: LedgerEntry | None, on: dt.date) -> tuple[Rate, Rate | None]:
    """The entry's rates; ``on``: the day whose rates apply (``fx.rate_day``)."""
    # Undoing money uses the rates it came in at, so a full reversal nets to exactly zero.
    reuse = original is not None and original.currency == new.amount.currency
    if reuse:
        reporting = Rate(original.currency, original.reporting_currency,
                         Decimal(original.fx_rate), original.fx_date)
    else:
        reporting = fx.rate_for(session, new.amount.currency, campaign.currency, on)
    if city is None:
        return reporting, None
    if reuse and original.city_id == city.id and original.city_fx_rate is not None:
        return reporting, Rate(original.currency, city.currency,
                               Decimal(original.city_fx_rate), original.city_fx_date)
    return reporting, fx.rate_for(session, new.amount.currency, city.currency, on)


def place(session: Session, new: NewEntry) -> tuple[CampaignRef, CityRef | None]:
    """The entry's campaign and city (None: the unassigned queue), or NotFound."""
    campaign = campaign_by_id(session, new.campaign_id)
    if campaign is None:
        raise NotFound("no such campaign")
    city = None
    if new.city_id is not None:
        city = city_by_id(session, new.city_id)
        if city is None or city.campaign_id != campaign.id:
            raise NotFound("no such city in this campaign")
    return campaign, city


def record(session: Session, new: NewEntry) -> Recorded:
    _check(new)
    existing = _find(session, new.stream, new.external_id)
    if existing is not None:
        return Recorded(existing, False)

    campaign, city = place(session, new)
    original = None
    if new.reverses_id is not None:
        original = session.get(LedgerEntry, new.reverses_id)
        if original is None or original.campaign_id != campaign.id:
            raise NotFound("the entry to reverse does not exist in this campaign")
    if new.kind is EntryKind.reversal and (
            original is None or (original.amount_minor < 0) == (new.amount.minor < 0)):
        raise InvalidInput("a reversal must have the opposite sign of the entry it reverses")

    now = utcnow()
    occurred = new.occurred_at or now
    limits.check_gift(session, new.amount, occurred.date(),
                      original.amount_minor if original is not None else None)
    reporting_rate, city_rate = _rates(session, new, campaign, city, original,
                                       fx.rate_day(session, campaign.id, occurred.date()))
    reporting = convert(new.amount, reporting_rate)
    city_amount = convert(new.amount, city_rate) if city_rate else None
    limits.check_converted(reporting.minor, city_amount.minor if city_amount else None)

    values = dict(
        campaign_id=campaign.id, city_id=new.city_id, stream=new.stream,
        external_id=new.external_id, kind=new.kind,
        amount_minor=new.amount.minor, currency=new.amount.currency, fee_minor=new.fee_minor,
        city_minor=city_amount.minor if city_amount else None,
        city_fx_rate=city_rate.text if city_rate and city_rate.source != "same" else None,
        city_fx_date=city_rate.date if city_rate and city_rate.source != "same" else None,
        reporting_minor=reporting.minor, reporting_currency=campaign.currency,
        fx_rate=reporting_rate.text, fx_date=reporting_rate.date,
        occurred_at=occurred, recorded_at=now,
        donor_name=new.donor_name, message=new.message, anonymous=new.anonymous,
        provisional=new.provisional, reverses_id=new.reverses_id, payload_id=new.payload_id,
        created_by_id=new.created_by_id, note=new.note, meta=new.meta,
    )
    row = session.execute(prepared_insert_ignore(session, LedgerEntry.__table__,
                                                 ("stream", "external_id"), COLUMNS),
                          values).first()
    if row is None:
        # Lost a race with a concurrent writer of the same id: theirs is the one entry.
        return Recorded(_find(session, new.stream, new.external_id), False)
    entry = as_loaded(session, LedgerEntry, row._mapping)
    chain.note_ids(session, campaign.id, (entry.id,))
    totals.apply(session, entry, original.kind if original is not None else None)
    return Recorded(entry, True)


COLUMNS = tuple(column.key for column in LedgerEntry.__table__.columns)
_table = LedgerEntry.__table__.c
_EXISTING = select(_table.id).where(_table.stream == bindparam("stream"),
                                    _table.external_id == bindparam("external_id"))


def _find(session: Session, stream: str, external_id: str) -> LedgerEntry | None:
    entry_id = session.execute(_EXISTING, {"stream": stream, "external_id": external_id}).scalar()
    return session.get(LedgerEntry, entry_id) if entry_id is not None else None


def is_reversed(session: Session, entry: LedgerEntry) -> bool:
    return session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.reverses_id == entry.id, LedgerEntry.kind == EntryKind.reversal)) is not None


def is_confirmed(session: Session, entry: LedgerEntry) -> bool:
    return session.scalar(select(EntryConfirmation.id)
                          .where(EntryConfirmation.entry_id == entry.id)) is not None


def reverse(session: Session, entry_id: int, *, reason: str, by_user_id: int | None = None,
            stream: str | None = None) -> Recorded:
    """Undo an entry in full with a new, opposite entry. Reversing twice is a no-op."""
    if not reason or not reason.strip():
        raise InvalidInput("a reversal needs a reason")
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound(f"no ledger entry {entry_id}")
    if original.kind is EntryKind.reversal:
        raise Conflict("a reversal cannot itself be reversed; record a new entry instead")
    still_provisional = original.provisional and not is_confirmed(session, original)
    return record(session, NewEntry(
        campaign_id=original.campaign_id, city_id=original.city_id,
        stream=stream or original.stream, external_id=f"reversal:{original.id}",
        amount=Money(-original.amount_minor, original.currency), kind=EntryKind.reversal,
        reverses_id=original.id, provisional=still_provisional, created_by_id=by_user_id,
        note=reason.strip(), donor_name=original.donor_name, anonymous=original.anonymous))


def confirm(session: Session, entry_id: int, *, method: str, by_user_id: int | None = None,
            reference: str | None = None) -> bool:
    """Mark a provisional entry as confirmed. Returns False if it already was."""
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(f"no ledger entry {entry_id}")
    if not entry.provisional or entry.kind is EntryKind.reversal:
        raise Conflict("only provisional money can be confirmed")
    if is_reversed(session, entry):
        raise Conflict("this entry was reversed; there is nothing to confirm")
    inserted = session.execute(insert_ignore(
        session, EntryConfirmation.__table__, ["entry_id"], entry_id=entry.id, method=method,
        confirmed_by_id=by_user_id, reference=reference,
        confirmed_at=utcnow())).scalar()
    if inserted is None:
        return False
    totals.confirm(session, entry)
    return True


def assign(session: Session, entry_id: int, city_id: int, *, by_user_id: int | None,
           reason: str = "assigned to a city by a coordinator") -> Recorded:
    """Move unassigned money to a city: an audited pair of entries, never an edit.

    The unassigned queue gets an adjustment that cancels the original; the city gets the same
    money (same kind, donor and time) so it counts there exactly as if it had arrived there.
    """
    original = session.get(LedgerEntry, entry_id)
    if original is None:
        raise NotFound(f"no ledger entry {entry_id}")
    if original.city_id is not None:
        raise Conflict("this money is already assigned to a city")
    record(session, NewEntry(
        campaign_id=original.campaign_id, city_id=None, stream="adjustment",
        external_id=f"unassign:{original.id}",
        amount=Money(-original.amount_minor, original.currency), kind=EntryKind.adjustment,
        reverses_id=original.id, created_by_id=by_user_id, note=reason))
    placed = record(session, NewEntry(
        campaign_id=original.campaign_id, city_id=city_id, stream="adjustment",
        external_id=f"assign:{original.id}",
        amount=Money(original.amount_minor, original.currency), kind=original.kind,
        occurred_at=original.occurred_at, donor_name=original.donor_name,
        message=original.message, anonymous=original.anonymous, fee_minor=original.fee_minor,
        created_by_id=by_user_id, note=reason, meta={"assigned_from": original.id}))
    if placed.entry.city_id != city_id:
        # The same request again is answered with what it did; another city is not.
        raise Conflict("this money was already assigned to another city")
    return placed
