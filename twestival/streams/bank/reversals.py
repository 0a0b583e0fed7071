"""A bank reversal of a credit we counted (CAMT ``RvslInd`` on a debit, a returned credit,
MT940 ``RC``): find that credit and undo it with a linked reversal entry, or leave the line
for a coordinator to review when the credit cannot be told for certain.

The credit is a bank donation of this campaign on the same account, in the same currency and
for the same amount, booked no later than the reversal and not reversed yet. One such credit
is the one. Several are narrowed to those the reversal names by reference (the bank's
reference, an end-to-end id, ...); if that does not leave exactly one, or none is found (its
statement not imported yet), nothing is guessed: the line waits in the review list with the
reason. Importing the statement again after the credit's arrives links it then; or a
coordinator, who knows which credit it was, links it from the list (``link``).
"""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...errors import Conflict, NotFound
from ...languages import N_
from ...ledger import EntryKind, LedgerEntry, NewEntry, Recorded, record
from ...money import Money
from ...phrases import Phrase
from ..inbox.archive import InboundPayload
from ..files.rows import ImportRow, Item

# Tokens that look like a reference (long enough, with a digit), not like words of a text;
# dates are not references (many bookings share one).
REFERENCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/+._-]{7,}")
DATE_RE = re.compile(r"\d{4}-\d\d-\d\d|\d\d\.\d\d\.\d{2,4}")
# lines.items: bank:<account>:ref:<bank reference>:<date>:<amount>[:<repeat>]
OWN_REF_RE = re.compile(r"ref:(.+):\d{4}-\d\d-\d\d:-?\d+(?::\d+)?")


def _tokens(text: str | None, bank_ref: str | None) -> set[str]:
    tokens = {token for token in REFERENCE_RE.findall(text or "")
              if any(c.isdigit() for c in token) and not DATE_RE.fullmatch(token)}
    if bank_ref and bank_ref.upper() not in ("NONREF", "NOTPROVIDED"):
        tokens.add(bank_ref)
    return tokens


def _credit_tokens(entry: LedgerEntry, account: str) -> set[str]:
    own = OWN_REF_RE.fullmatch(entry.external_id.removeprefix(f"bank:{account}:"))
    return _tokens(entry.note, own.group(1) if own else None)


def home(session: Session, entry: LedgerEntry) -> LedgerEntry:
    """Where the credit's money counts now: a coordinator may have assigned it to a city."""
    moved = session.scalar(select(LedgerEntry).where(
        LedgerEntry.stream == "adjustment", LedgerEntry.external_id == f"assign:{entry.id}"))
    return moved or entry


def _reversed(session: Session, entry: LedgerEntry) -> bool:
    return session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.reverses_id == entry.id, LedgerEntry.kind == EntryKind.reversal)) is not None


def _candidates(session: Session, campaign_id: int, account: str, amount: Money,
                booked: dt.datetime) -> list[LedgerEntry]:
    """Counted credits of ``amount`` on ``account``, booked by ``booked``, not reversed yet."""
    return [
        entry for entry in session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.campaign_id == campaign_id, LedgerEntry.stream == "bank",
                LedgerEntry.kind == EntryKind.donation,
                LedgerEntry.currency == amount.currency,
                LedgerEntry.amount_minor == amount.minor,
                LedgerEntry.external_id.startswith(f"bank:{account}:", autoescape=True),
                LedgerEntry.occurred_at <= booked)
            .order_by(LedgerEntry.occurred_at, LedgerEntry.id))
        if not _reversed(session, home(session, entry))]


def find_credit(session: Session, campaign_id: int,
                item: Item) -> tuple[LedgerEntry | None, Phrase | None]:
    """(the counted credit ``item`` reverses, None) or (None, why it cannot be told)."""
    account = (item.meta or {}).get("account") or "unknown"
    amount = Money(-item.amount.minor, item.amount.currency)
    candidates = _candidates(session, campaign_id, account, amount, item.occurred_at)
    if not candidates:
        return None, Phrase(N_("a reversal of %(amount)s on account %(account)s, but no "
                               "counted credit of that amount on that account was found "
                               "(import the statement that holds it, then this one again)"),
                            {"amount": str(amount), "account": account})
    if len(candidates) > 1:
        references = _tokens(item.reference, (item.meta or {}).get("bank_ref"))
        named = [entry for entry in candidates if references & _credit_tokens(entry, account)]
        if len(named) != 1:
            return None, Phrase(
                N_("a reversal of %(amount)s on account %(account)s: %(count)s counted credits "
                   "of that amount could be the one, and its references name several of them")
                if named else
                N_("a reversal of %(amount)s on account %(account)s: %(count)s counted credits "
                   "of that amount could be the one, and its references name none of them"),
                {"amount": str(amount), "account": account, "count": len(candidates)})
        candidates = named
    return candidates[0], None


def undo(session: Session, credit: LedgerEntry, *, external_id: str, amount: Money,
         occurred_at: dt.datetime, payload_id: int | None, created_by_id: int | None,
         note: str | None, meta: dict) -> Recorded:
    """The reversal entry of ``credit``, where its money counts now, at its recorded rates."""
    target = home(session, credit)
    return record(session, NewEntry(
        campaign_id=credit.campaign_id, city_id=target.city_id, stream="bank",
        external_id=external_id, amount=amount, kind=EntryKind.reversal,
        occurred_at=occurred_at, donor_name=target.donor_name, anonymous=target.anonymous,
        reverses_id=target.id, payload_id=payload_id, created_by_id=created_by_id,
        note=note, meta={**meta, "reverses": target.id}))


# --- the review list ---------------------------------------------------------------------------

def review_meta(item: Item, why: Phrase) -> dict:
    """What the review list shows and ``link`` needs, kept with the archived row."""
    return {**(item.meta or {}), "review": why.stored(), "amount_minor": item.amount.minor,
            "currency": item.amount.currency, "booked": item.occurred_at.date().isoformat(),
            "reference": (item.reference or "")[:500]}


def _open_rows(session: Session, campaign_id: int):
    return (select(ImportRow, InboundPayload.meta)
            .join(InboundPayload, InboundPayload.id == ImportRow.payload_id)
            .where(InboundPayload.campaign_id == campaign_id, InboundPayload.stream == "bank",
                   ImportRow.outcome == "review",
                   ImportRow.external_id.not_in(select(LedgerEntry.external_id).where(
                       LedgerEntry.stream == "bank", LedgerEntry.campaign_id == campaign_id))))


def _booked(meta: dict) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(meta["booked"]), dt.time(12),
                               dt.timezone.utc)


def _amount(meta: dict) -> Money:
    return Money(meta["amount_minor"], meta["currency"])


def waiting(session: Session, campaign_id: int) -> list[dict]:
    """Bank lines left for review and not linked since (the newest import of each line), with
    the credits each could undo."""
    rows = session.execute(_open_rows(session, campaign_id).order_by(
        ImportRow.payload_id.desc(), ImportRow.line)).all()
    seen: dict[str, dict] = {}
    for row, payload_meta in rows:
        if row.external_id in seen:
            continue
        meta = row.meta or {}
        seen[row.external_id] = {
            "id": row.id, "line": row.line, "file": (payload_meta or {}).get("filename"),
            "booked": meta.get("booked"), "amount": _amount(meta),
            "reason": Phrase.load(meta.get("review") or ""),
            "account": meta.get("account"), "reference": meta.get("reference"),
            "candidates": _candidates(session, campaign_id, meta.get("account") or "unknown",
                                      -_amount(meta), _booked(meta))}
    return list(seen.values())


def link(session: Session, campaign_id: int, row_id: int, entry_id: int, *,
         by_user_id: int | None) -> Recorded:
    """A coordinator tells which credit a reviewed reversal undoes: record that reversal."""
    found = session.execute(_open_rows(session, campaign_id)
                            .where(ImportRow.id == row_id)).first()
    if found is None:
        raise NotFound(N_("no bank line waiting for review with that id in this campaign"))
    row = found[0]
    meta = row.meta or {}
    choices = _candidates(session, campaign_id, meta.get("account") or "unknown",
                          -_amount(meta), _booked(meta))
    credit = next((entry for entry in choices if entry.id == entry_id), None)
    if credit is None:
        raise Conflict(N_("that entry is not a counted credit this reversal could undo (same "
                          "account, currency and amount, booked before it, not reversed yet)"))
    return undo(session, credit, external_id=row.external_id, amount=_amount(meta),
                occurred_at=_booked(meta), payload_id=row.payload_id, created_by_id=by_user_id,
                note=meta.get("reference") or None,
                meta={k: meta[k] for k in ("account", "status", "reversal", "bank_ref")
                      if k in meta} | {"linked_by": by_user_id})
