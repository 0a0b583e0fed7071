"""What an import tells its user: rows by outcome, and the money each outcome moved."""
from __future__ import annotations

import dataclasses

from ...money import Money, format_money


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
    errors: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
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

    def lines(self) -> list[str]:
        out = [f"rows: {self.rows}",
               f"imported: {self.imported}",
               f"unmatched (waiting in the unassigned queue): {self.unmatched}",
               f"duplicates skipped: {self.duplicates}",
               f"debits reported, not counted: {self.debits}",
               f"payouts (money already counted): {self.payouts}"]
        if self.returns:
            out.append("returned payments of ours (money back, not gifts), not counted: "
                       f"{self.returns}")
        if self.interest:
            out.append("interest and dividends paid by the bank (not gifts), not counted: "
                       f"{self.interest}")
        if self.confirmed:
            out.append(f"cash entries confirmed by the bank: {self.confirmed}")
        if self.skipped:
            out.append(f"skipped: {self.skipped}")
        if self.refunds:
            out.append(f"refunds recorded: {self.refunds}")
        if self.reversals:
            out.append(f"reversals of counted credits (linked to them): {self.reversals}")
        if self.review:
            out.append(f"left for review, not counted: {self.review}")
        for currency, minor in sorted(self.imported_by_currency.items()):
            out.append(f"new money: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.reversed_by_currency.items()):
            out.append(f"taken back by reversals: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.returned_by_currency.items()):
            out.append(f"returned to us, not counted: {format_money(Money(minor, currency))}")
        for currency, minor in sorted(self.interest_by_currency.items()):
            out.append("interest and dividends, not counted: "
                       f"{format_money(Money(minor, currency))}")
        out.extend(f"note: {note}" for note in self.notes)
        out.extend(f"error: {error}" for error in self.errors)
        return out
