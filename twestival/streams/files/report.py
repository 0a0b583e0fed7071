"""What an import tells its user: rows by outcome, and the money each outcome moved."""
from __future__ import annotations

import dataclasses

from ...languages import N_
from ...money import Money, format_money
from ...phrases import Phrase


@dataclasses.dataclass
class Report:
    format: str
    filename: str | None = None
    payload_id: int | None = None
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    unmatched: int = 0
    confirmed: int = 0
    debits: int = 0
    returns: int = 0                   # bank credits giving back money of ours (not counted)
    interest: int = 0                  # bank credits of interest or dividends (not counted)
    payouts: int = 0
    skipped: int = 0
    reversals: int = 0                 # bank reversals linked to the credit they undo
    review: int = 0                    # bank lines left for a coordinator (not counted)
    refunds: int = 0
    # Said in the reader's language wherever the report is shown (a result page, the history,
    # the command line): kept as phrases, stored as their JSON (``stored``).
    errors: list[Phrase] = dataclasses.field(default_factory=list)
    notes: list[Phrase] = dataclasses.field(default_factory=list)
    imported_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    reversed_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    returned_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)
    interest_by_currency: dict[str, int] = dataclasses.field(default_factory=dict)

    def count(self, outcome: str, amount: Money | None = None) -> None:
        self.count_many(outcome, 1, amount.currency if amount else None,
                        amount.minor if amount else 0)

    def count_many(self, outcome: str, rows: int, currency: str | None = None,
                   minor: int = 0) -> None:
        """``rows`` rows with one outcome, ``minor`` the sum of their amounts in ``currency``."""
        self.rows += rows
        field = {"imported": "imported", "unassigned": "unmatched", "duplicate": "duplicates",
                 "confirmed": "confirmed", "debit": "debits", "returned": "returns",
                 "interest": "interest",
                 "payout": "payouts",
                 "skipped": "skipped", "reversal": "reversals", "review": "review"}[outcome]
        setattr(self, field, getattr(self, field) + rows)
        sums = {"imported": self.imported_by_currency, "unassigned": self.imported_by_currency,
                "reversal": self.reversed_by_currency, "returned": self.returned_by_currency,
                "interest": self.interest_by_currency}.get(outcome)
        if sums is not None and currency is not None:
            sums[currency] = sums.get(currency, 0) + minor

    def stored(self) -> dict:
        """JSON-ready, for the imports history."""
        return {**dataclasses.asdict(self), "errors": [e.stored() for e in self.errors],
                "notes": [n.stored() for n in self.notes]}

    @classmethod
    def load(cls, stored: dict) -> Report:
        """A stored report; notes and errors stored as plain English text (before they were
        phrases) read as they were written."""
        fields = {f.name for f in dataclasses.fields(cls)}
        report = cls(**{k: v for k, v in stored.items() if k in fields})
        report.errors = [Phrase.load(e) for e in report.errors]
        report.notes = [Phrase.load(n) for n in report.notes]
        return report

    def lines(self, gettext=lambda text: text, locale: str = "en") -> list[str]:
        """The report as text, in the language of ``gettext`` (English without one); amounts
        are formatted for ``locale``."""
        return [phrase.translated(gettext) for phrase in self.phrases(locale)]

    def phrases(self, locale: str = "en") -> list[Phrase]:
        def money(currency, minor):
            return format_money(Money(minor, currency), locale)
        out = [(N_("rows: %(n)s"), {"n": self.rows}),
               (N_("imported: %(n)s"), {"n": self.imported}),
               (N_("unmatched (waiting in the unassigned queue): %(n)s"), {"n": self.unmatched}),
               (N_("duplicates skipped: %(n)s"), {"n": self.duplicates}),
               (N_("debits reported, not counted: %(n)s"), {"n": self.debits}),
               (N_("payouts (money already counted): %(n)s"), {"n": self.payouts})]
        if self.returns:
            out.append((N_("returned payments of ours (money back, not gifts), not counted: "
                           "%(n)s"), {"n": self.returns}))
        if self.interest:
            out.append((N_("interest and dividends paid by the bank (not gifts), not counted: "
                           "%(n)s"), {"n": self.interest}))
        if self.confirmed:
            out.append((N_("cash entries confirmed by the bank: %(n)s"), {"n": self.confirmed}))
        if self.skipped:
            out.append((N_("skipped: %(n)s"), {"n": self.skipped}))
        if self.refunds:
            out.append((N_("refunds recorded: %(n)s"), {"n": self.refunds}))
        if self.reversals:
            out.append((N_("reversals of counted credits (linked to them): %(n)s"),
                        {"n": self.reversals}))
        if self.review:
            out.append((N_("left for review, not counted: %(n)s"), {"n": self.review}))
        for currency, minor in sorted(self.imported_by_currency.items()):
            out.append((N_("new money: %(amount)s"), {"amount": money(currency, minor)}))
        for currency, minor in sorted(self.reversed_by_currency.items()):
            out.append((N_("taken back by reversals: %(amount)s"),
                        {"amount": money(currency, minor)}))
        for currency, minor in sorted(self.returned_by_currency.items()):
            out.append((N_("returned to us, not counted: %(amount)s"),
                        {"amount": money(currency, minor)}))
        for currency, minor in sorted(self.interest_by_currency.items()):
            out.append((N_("interest and dividends, not counted: %(amount)s"),
                        {"amount": money(currency, minor)}))
        out.extend((N_("note: %(text)s"), {"text": note}) for note in self.notes)
        out.extend((N_("error: %(text)s"), {"text": error}) for error in self.errors)
        return [Phrase(text, values) for text, values in out]
