"""What every file format shares: the rows parsers yield (``Item``), the errors that refuse a
file, the row archive (``ImportRow``), and what a recorder is handed (``Context``)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...campaigns.models import Campaign, City
from ...errors import DomainError, InvalidInput
from ...languages import N_
from ...money import Money
from ...phrases import Phrase
from ...storage.database import Base
from ...storage.sql import fast_insert
from ..inbox.archive import InboundPayload
from .mappings import ImportMapping
from .report import Report

MAX_ERRORS_SHOWN = 20


class MalformedFile(InvalidInput):
    """The file cannot be read as the format it claims; nothing was recorded.

    ``errors`` are the rows' own errors (phrases, said in the reader's language too), of which
    the first ``MAX_ERRORS_SHOWN`` are shown and kept; ``more`` is how many follow them."""

    def __init__(self, message: str, errors: list[Phrase] | None = None, *, more: int = 0,
                 **values):
        errors = errors or []
        self.errors = errors[:MAX_ERRORS_SHOWN]
        self.more = more + len(errors) - len(self.errors)
        super().__init__(message, **values)
        self.message = self._listing(self.message)
        self.args = (self.message,)

    def translated(self, gettext) -> str:
        return self._listing(Phrase.of(self).translated(gettext), gettext)

    def _listing(self, head: str, gettext=lambda text: text) -> str:
        if not self.errors:
            return head
        shown = "; ".join(error.translated(gettext) for error in self.errors)
        if self.more > 0:
            shown += " " + gettext("(and %(n)s more)") % {"n": self.more}
        return Phrase(N_("%(refusal)s: %(errors)s"), {"refusal": head, "errors": shown}) \
            .translated(gettext)

    def head(self) -> Phrase:
        """The refusal's own sentence, without the rows' errors (a page lists them apart)."""
        return Phrase.of(self)

    def stored(self) -> dict:
        """JSON-ready, for the imports history to say it again in its reader's language."""
        return {**Phrase.of(self).stored(), "errors": [e.stored() for e in self.errors],
                "more": self.more}

    @classmethod
    def load(cls, stored: dict) -> MalformedFile:
        head = Phrase.load(stored)
        return cls(head.msgid, [Phrase.load(e) for e in stored.get("errors") or []],
                   more=stored.get("more") or 0, **head.values)


class PartlyRecorded(Exception):
    """Recording failed after the file had passed its checks (not bad input: a crash, a lost
    database); committed chunks stay, and recording the file again completes it."""


class RowError(Exception):
    """One row cannot be read; collected with its line number, then the file is refused.

    Like a DomainError, the English text is the msgid and values go in by name."""

    def __init__(self, message: str, **values):
        self.phrase = Phrase(message, values)
        super().__init__(str(self.phrase))

    @classmethod
    def of(cls, error: DomainError | Phrase) -> RowError:
        """A row refused for a domain error (an amount that is no money) or a kept phrase."""
        phrase = error if isinstance(error, Phrase) else Phrase.of(error)
        return cls(phrase.msgid, **phrase.values)


def at_line(line: int, error: Phrase) -> Phrase:
    return Phrase(N_("line %(line)s: %(error)s"), {"line": line, "error": error})


class ImportRow(Base):
    """One row of an archived file, verbatim, and what became of it."""
    __tablename__ = "import_row"
    # A CAMT batch entry splits into several transfers that share the entry's number.
    __table_args__ = (UniqueConstraint("payload_id", "line", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payload_id: Mapped[int] = mapped_column(ForeignKey("inbound_payload.id"))
    line: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # The entry a row became is the ledger entry with the same stream and external id.
    outcome: Mapped[str] = mapped_column(String(16))
    meta: Mapped[dict | None] = mapped_column(JSON)


@dataclasses.dataclass(slots=True)
class Item:
    """One unit of money from a file (a ticket order, a bank entry), before any city is known."""
    line: int
    external_id: str
    amount: Money                      # signed: negative is money out (bank debits)
    occurred_at: dt.datetime
    raw: str                           # the row(s) verbatim, for the row archive
    reference: str | None = None       # text searched for a city's bank reference
    donor_name: str | None = None
    fee_minor: int | None = None
    refunded_minor: int = 0            # ticketing: part of the order refunded
    meta: dict | None = None
    # Set by the check pass (the stream's ``classify``): "entry" for money to record, else
    # a word for what the line is (a debit, a payout, ...), and the city it goes to.
    outcome: str = "entry"
    city_id: int | None = None


@dataclasses.dataclass
class Context:
    """What a processor needs besides the items: where the money goes and who sent it."""
    session: Session
    campaign: Campaign
    city: City | None
    payload: InboundPayload
    report: Report
    created_by_id: int | None = None
    mapping: ImportMapping | None = None
    currency: str | None = None        # bank statements: for files that name no currency
    # Set by a parser whose ids must not repeat within a file: says why a repeat refuses it.
    repeat_error: Callable[[str], Phrase] | None = None


Parser = Callable[[BinaryIO, Context], Iterator[Item]]


def collect(rows: Iterable[tuple[int, Callable[[], Item | None]]]) -> Iterator[Item]:
    """Run row builders, gathering every row's error before refusing the file."""
    errors: list[Phrase] = []
    for line, build in rows:
        try:
            item = build()
        except RowError as exc:
            errors.append(at_line(line, exc.phrase))
            continue
        if item is not None and not errors:
            yield item
    if errors:
        raise MalformedFile(N_("the file was refused, nothing was recorded"), errors)


def archive_rows(ctx: Context, batch: list[tuple[Item, str]], *, with_meta: bool = True) -> None:
    """Archive a batch of rows with what became of them (replaying archives nothing twice)."""
    if not batch:
        return
    fast_insert(ctx.session, ImportRow.__table__, [
        {"payload_id": ctx.payload.id, "line": item.line, "external_id": item.external_id,
         "body": item.raw, "outcome": outcome, "meta": item.meta if with_meta else None}
        for item, outcome in batch], ["payload_id", "line", "external_id"])
