"""What every bank format is turned into: one line of a statement, money in or out."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator

from ...money import Money
from ...phrases import Phrase
from ..files.rows import Item, RowError, collect


@dataclasses.dataclass(slots=True)
class BankLine:
    line: int                    # line number (MT940, CSV) or entry number (CAMT, OFX)
    account: str
    booked: dt.date | None
    amount: Money | None         # signed: negative is a debit
    text: str                    # remittance information, references, memo: searched for cities
    raw: str
    counterparty: str | None = None
    bank_ref: str | None = None  # the bank's own id for the entry, when it gives one
    status: str | None = None
    reversal: bool = False
    interest: str | None = None  # the code that says the bank pays it (interest, a dividend)
    problem: Phrase | None = None

    @classmethod
    def error(cls, line: int, problem: Phrase, raw: str = "") -> BankLine:
        return cls(line=line, account="", booked=None, amount=None, text="", raw=raw,
                   problem=problem)


def items(lines: Iterable[BankLine]) -> Iterator[Item]:
    """BankLines to Items with stable ids; any bad line refuses the whole statement.

    The id is the bank's own reference when there is one, else a hash of account, date,
    amount and text plus which repeat of that same content this is within the file, so an
    overlapping statement that lists the same booking again yields the same id.
    """
    repeats: dict[str, int] = {}

    def build(bank_line: BankLine):
        def make() -> Item:
            if bank_line.problem:
                raise RowError.of(bank_line.problem)
            if bank_line.bank_ref and bank_line.bank_ref.upper() not in ("NONREF", "NOTPROVIDED"):
                # Some banks reuse a reference (across days, even within one day for
                # different bookings): the date, amount and repeat number keep it apart.
                key = (f"ref:{bank_line.bank_ref}:{bank_line.booked.isoformat()}:"
                       f"{bank_line.amount.minor}")
                repeats[key] = repeats.get(key, 0) + 1
                if repeats[key] > 1:
                    key = f"{key}:{repeats[key]}"
            else:
                content = "|".join((bank_line.account, bank_line.booked.isoformat(),
                                    str(bank_line.amount), " ".join(bank_line.text.split())))
                repeats[content] = repeats.get(content, 0) + 1
                key = "h:" + hashlib.sha256(
                    f"{content}|{repeats[content]}".encode()).hexdigest()[:32]
            occurred = dt.datetime.combine(bank_line.booked, dt.time(12), dt.timezone.utc)
            return Item(line=bank_line.line, external_id=f"bank:{bank_line.account}:{key}"[:200],
                        amount=bank_line.amount, occurred_at=occurred, raw=bank_line.raw,
                        reference=bank_line.text, donor_name=(bank_line.counterparty or None)
                        and bank_line.counterparty[:200],
                        meta=_meta(bank_line))
        return make

    return collect((bank_line.line, build(bank_line)) for bank_line in lines)


def _meta(bank_line: BankLine) -> dict:
    meta: dict = {"account": bank_line.account}
    if bank_line.status or bank_line.reversal:
        meta.update(status=bank_line.status, reversal=bank_line.reversal)
    if bank_line.reversal and bank_line.bank_ref:
        meta["bank_ref"] = bank_line.bank_ref  # to find the credit a reversal undoes
    if bank_line.interest:
        meta["interest"] = bank_line.interest
    return meta
