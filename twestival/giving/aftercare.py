"""What follows a processed online payment, in its transaction: match gifts, then receipts.
The inbox calls it after processing anything (webhook groups, the PayPal return, replay),
before the commit (``streams.inbox.receive.AFTER_PROCESSING``). Neither part may undo the money
it follows: each runs in a savepoint, and what fails is logged and left for a replay. No Flask
here."""
from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..ledger import EntryKind, LedgerEntry
from ..streams.inbox.receive import AFTER_PROCESSING
from . import matching, receipts

log = logging.getLogger(__name__)
STREAMS = ("stripe", "paypal")


# session.info key: the language of a donor whose payment is processed while they wait (the
# PayPal return page), for a receipt whose payload cannot tell it.
DONOR_LANG = "twestival.donor_lang"


def settle(session: Session, payload_ids: Iterable[int | None]) -> None:
    ids = [i for i in payload_ids if i is not None]
    if not ids:
        return
    try:
        with session.begin_nested():
            entries = session.scalars(select(LedgerEntry).where(
                LedgerEntry.payload_id.in_(ids), LedgerEntry.stream.in_(STREAMS),
                LedgerEntry.kind.in_([EntryKind.donation, EntryKind.refund,
                                      EntryKind.chargeback])).order_by(LedgerEntry.id)).all()
            matching.apply(session, entries)
    except OperationalError:
        raise   # the database is busy or gone: the caller's whole transaction retries
    except Exception:
        log.exception("matches for payloads %s not written; a replay writes them", ids[:10])
    receipts.issue(session, ids, session.info.get(DONOR_LANG))


AFTER_PROCESSING.append(settle)
