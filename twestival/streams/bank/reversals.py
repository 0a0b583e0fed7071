"""A bank reversal of a credit we counted (CAMT ``RvslInd`` on a debit, a returned credit,
MT940 ``RC``): find that credit and undo it with a linked reversal entry, or leave the line
for a coordinator to review when the credit cannot be told for certain.

The credit is a bank donation of this campaign on the same account, in the same currency and
for the same amount, booked no later than the reversal and not reversed yet. One such credit
is the one. Several are narrowed to those the reversal names by reference (the bank's
reference, an end-to-end id, ...); if that does not leave exactly one, or none is found (its
statement not imported yet), nothing is guessed: the line waits in the review list with the
reason, and importing the statement again after the credit's arrives links it then.
"""
from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...ledger import EntryKind, LedgerEntry
from ...money import Money
from ..archive import InboundPayload
from ..importing import ImportRow, Item

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


def find_credit(session: Session, campaign_id: int,
                item: Item) -> tuple[LedgerEntry | None, str | None]:
    """(the counted credit ``item`` reverses, None) or (None, why it cannot be told)."""
    account = (item.meta or {}).get("account") or "unknown"
    amount = Money(-item.amount.minor, item.amount.currency)
    candidates = [
        entry for entry in session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.campaign_id == campaign_id, LedgerEntry.stream == "bank",
                LedgerEntry.kind == EntryKind.donation,
                LedgerEntry.currency == amount.currency,
                LedgerEntry.amount_minor == amount.minor,
                LedgerEntry.external_id.startswith(f"bank:{account}:", autoescape=True),
                LedgerEntry.occurred_at <= item.occurred_at)
            .order_by(LedgerEntry.occurred_at, LedgerEntry.id))
        if not _reversed(session, home(session, entry))]
    if not candidates:
        return None, (f"a reversal of {amount} on account {account}, but no counted credit of "
                      "that amount on that account was found (import the statement that holds "
                      "it, then this one again)")
    if len(candidates) > 1:
        references = _tokens(item.reference, (item.meta or {}).get("bank_ref"))
        named = [entry for entry in candidates if references & _credit_tokens(entry, account)]
        if len(named) != 1:
            return None, (f"a reversal of {amount} on account {account}: {len(candidates)} "
                          "counted credits of that amount could be the one, and its references "
                          f"name {'several' if named else 'none'} of them")
        candidates = named
    return candidates[0], None


def waiting(session: Session, campaign_id: int) -> list[dict]:
    """Bank lines left for review and not linked since (newest import of each line)."""
    rows = session.execute(
        select(ImportRow.external_id, ImportRow.line, ImportRow.meta, InboundPayload.meta,
               InboundPayload.received_at)
        .join(InboundPayload, InboundPayload.id == ImportRow.payload_id)
        .where(InboundPayload.campaign_id == campaign_id, InboundPayload.stream == "bank",
               ImportRow.outcome == "review",
               ImportRow.external_id.not_in(select(LedgerEntry.external_id).where(
                   LedgerEntry.stream == "bank", LedgerEntry.campaign_id == campaign_id)))
        .order_by(InboundPayload.received_at.desc(), ImportRow.line)).all()
    seen: dict[str, dict] = {}
    for external_id, line, meta, payload_meta, received_at in rows:
        meta = meta or {}
        seen.setdefault(external_id, {
            "line": line, "file": (payload_meta or {}).get("filename"),
            "booked": meta.get("booked"), "amount": Money(meta["amount_minor"], meta["currency"])
            if "amount_minor" in meta else None, "reason": meta.get("review"),
            "received_at": received_at})
    return list(seen.values())
