"""What follows a processed online payment, in its transaction: match gifts, then receipts.
The inbox calls it after processing anything (webhook groups, the PayPal return, replay),
before the commit (registered in ``streams.catalogue``). Neither may undo the money it
follows: they run in a savepoint, and what fails is logged and left for a replay. No Flask
here."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..ledger import EntryKind, LedgerEntry
from ..streams.inbox.archive import InboundPayload
from . import matching, receipts

log = logging.getLogger(__name__)
STREAMS = ("stripe", "paypal")
KINDS = (EntryKind.donation, EntryKind.refund, EntryKind.chargeback)


# session.info key: the language of a donor whose payment is processed while they wait (the
# PayPal return page), for a receipt whose payload cannot tell it.
DONOR_LANG = "twestival.donor_lang"


def settle(session: Session, payloads: Iterable[tuple[int | None, str]]) -> None:
    ids = [payload_id for payload_id, stream in payloads
           if payload_id is not None and stream in STREAMS]
    if not ids:
        return   # the API, cash, imports: nothing to match or thank for here
    rows = session.execute(
        select(LedgerEntry, InboundPayload.body)
        .join(InboundPayload, InboundPayload.id == LedgerEntry.payload_id)
        .where(LedgerEntry.payload_id.in_(ids), LedgerEntry.stream.in_(STREAMS),
               LedgerEntry.kind.in_(KINDS)).order_by(LedgerEntry.id)).all()
    if not rows:
        return
    entries = [entry for entry, _body in rows]
    offers = matching.open_offers(session, entries)
    thanked = receipts.donors(rows, session.info.get(DONOR_LANG))
    if not (offers or thanked or any(e.kind is not EntryKind.donation for e in entries)):
        return   # the common case on a busy night costs two reads, no savepoint
    try:
        with session.begin_nested():
            matching.apply(session, entries, offers)
            receipts.issue(session, entries, thanked)
    except OperationalError:
        raise   # the database is busy or gone: the caller's whole transaction retries
    except Exception:
        log.exception("matches and receipts for payloads %s not written; a replay writes them",
                      ids[:10])
