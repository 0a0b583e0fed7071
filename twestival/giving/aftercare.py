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
from . import matching, receipts

log = logging.getLogger(__name__)
STREAMS = ("stripe", "paypal")
KINDS = (EntryKind.donation, EntryKind.refund, EntryKind.chargeback)


# session.info key: the language of a donor whose payment is processed while they wait (the
# PayPal return page), for a receipt whose payload cannot tell it.
DONOR_LANG = "twestival.donor_lang"


_entry = LedgerEntry.__table__.c
# What matching and receipts read of an entry, as plain rows: this runs after every payment,
# and loading ORM objects cost more than the rest of it.
_RECORDED = (select(_entry.id, _entry.campaign_id, _entry.city_id, _entry.stream, _entry.kind,
                    _entry.amount_minor, _entry.currency, _entry.reporting_minor,
                    _entry.occurred_at, _entry.reverses_id, _entry.meta, InboundPayload.body)
             .join(InboundPayload, InboundPayload.id == _entry.payload_id)
             .where(_entry.payload_id.in_(bindparam("ids", expanding=True)),
                    _entry.stream.in_(STREAMS), _entry.kind.in_(KINDS))
             .order_by(_entry.id))


def settle(session: Session, payloads: Iterable[tuple[int | None, str]]) -> None:
    ids = [payload_id for payload_id, stream in payloads
           if payload_id is not None and stream in STREAMS]
    if not ids:
        return   # the API, cash, imports: nothing to match or thank for here
    rows = session.execute(_RECORDED, {"ids": ids}).all()
    if not rows:
        return
    entries = list(rows)   # rows with the entry's attributes that matching and receipts read
    offers = matching.open_offers(session, entries)
    thanked = receipts.donors([(row, row.body) for row in rows], session.info.get(DONOR_LANG))
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
