"""What follows a processed online payment, in its transaction: match gifts, then receipts.
The inbox calls it after processing anything (webhook groups, the PayPal return, replay),
before the commit (registered in ``streams.catalogue``). Neither may undo the money it
follows: they run in a savepoint, and what fails is logged and left for a replay. No Flask
here."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..ledger import EntryKind, LedgerEntry
from ..streams.inbox.archive import InboundPayload
from ..streams.paypal import events as paypal
from . import matching, receipts

log = logging.getLogger(__name__)
STREAMS = ("stripe", "paypal")
KINDS = (EntryKind.donation, EntryKind.refund, EntryKind.chargeback)


# session.info key: the language of a donor whose payment is processed while they wait (the
# PayPal return page), for a receipt whose payload cannot tell it.
DONOR_LANG = "twestival.donor_lang"


_entry = LedgerEntry.__table__.c
# What matching and receipts read of an entry, as plain rows: this runs after every payment,
# and loading ORM objects cost more than the rest of it. Only the payload ids are asked in
# SQL: given stream and kind as well, SQLite (no statistics) reads a group's entries through
# the (stream, external_id) key, that is every Stripe entry, instead of the payload_id index.
_RECORDED = (select(_entry.id, _entry.campaign_id, _entry.city_id, _entry.stream, _entry.kind,
                    _entry.amount_minor, _entry.currency, _entry.reporting_minor,
                    _entry.occurred_at, _entry.reverses_id, _entry.meta, InboundPayload.body)
             .join(InboundPayload, InboundPayload.id == _entry.payload_id)
             .where(_entry.payload_id.in_(bindparam("ids", expanding=True)))
             .order_by(_entry.id))


def settle(session: Session, payloads: Iterable[tuple[int | None, str]]) -> None:
    payloads = list(payloads)
    ids = [payload_id for payload_id, stream in payloads
           if payload_id is not None and stream in STREAMS]
    if not ids:
        return   # the API, cash, imports: nothing to match or thank for here
    rows = [row for row in session.execute(_RECORDED, {"ids": ids})
            if row.stream in STREAMS and row.kind in KINDS]
    counted_before = _counted_before(
        session, [payload_id for payload_id, stream in payloads
                  if payload_id is not None and stream == paypal.STREAM],
        {row.id for row in rows})
    if not (rows or counted_before):
        return
    entries = list(rows)   # rows with the entry's attributes that matching and receipts read
    offers = matching.open_offers(session, entries)
    thanked = receipts.donors([(row, row.body) for row in rows] + counted_before,
                              session.info.get(DONOR_LANG))
    if not (offers or thanked or any(e.kind is not EntryKind.donation for e in entries)):
        return   # the common case on a busy night costs two reads, no savepoint
    try:
        with session.begin_nested():
            matching.apply(session, entries, offers)   # the earlier delivery matched those
            receipts.issue(session, entries + [entry for entry, _body in counted_before],
                           thanked)
    except OperationalError:
        raise   # the database is busy or gone: the caller's whole transaction retries
    except Exception:
        log.exception("matches and receipts for payloads %s not written; a replay writes them",
                      ids[:10])


def _counted_before(session: Session, ids: list[int],
                    seen: set[int]) -> list[tuple[LedgerEntry, bytes]]:
    """Gifts in a captured PayPal order (the return page) that its webhook counted first: the
    webhook's capture names no payer, so the order's body is the one to thank them from."""
    if not ids:
        return []
    orders = session.execute(select(InboundPayload.body, InboundPayload.meta).where(
        InboundPayload.id.in_(ids), InboundPayload.stream == paypal.STREAM)).all()
    found = []
    for body, meta in orders:
        if (meta or {}).get("source") != paypal.ORDER_CAPTURE:
            continue
        captures = [f"capture:{capture_id}" for capture_id in paypal.order_captures(body)]
        found += [(entry, body) for entry in session.scalars(select(LedgerEntry).where(
            LedgerEntry.stream == paypal.STREAM, LedgerEntry.external_id.in_(captures),
            LedgerEntry.kind == EntryKind.donation)) if entry.id not in seen]
    return found
