"""The reconciliation statement: per city, per stream, per currency, what came in and went out.

Amounts are summed exactly in the currency they arrived in; the net is also given in the
reporting currency as the ledger converted it entry by entry (each at its recorded rate).
A fee settled in another currency than its entry (Stripe paying out a GBP card donation in
USD) counts in the fees column converted at the rate recorded with it, and the row lists
those fees as stated with their rates and dates (``converted_fees``).
"""
from __future__ import annotations

import collections
import dataclasses
import re

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..money import Money
from .models import EntryFee, EntryKind, LedgerEntry


@dataclasses.dataclass(frozen=True)
class ConvertedFee:
    """Fees of a row settled in another currency, at one recorded rate."""
    stated: Money        # as the provider stated them
    converted: Money     # in the row's currency, as counted in its fees
    rate: str            # units of the stated currency for one of the row's
    date: str
    source: str          # "stripe": the provider's own rate; "ecb": ours

    def __str__(self) -> str:
        return (f"{self.stated} = {self.converted} at {self.rate} "
                f"{self.stated.currency}/{self.converted.currency} on {self.date} ({self.source})")


@dataclasses.dataclass(frozen=True)
class RateUsed:
    """The reporting rate some of a row's entries were converted at."""
    base: str
    quote: str
    rate: str            # units of ``quote`` for one of ``base``
    date: str
    entries: int

    def __str__(self) -> str:
        return f"{self.rate} {self.quote}/{self.base} of {self.date} ({self.entries})"


def rate_policy(campaign: Campaign) -> str:
    """The campaign's rate policy in a word: "daily", or "fixed YYYY-MM-DD"."""
    return f"fixed {campaign.fx_fixed_on.isoformat()}" if campaign.fx_fixed_on else "daily"


@dataclasses.dataclass
class StatementRow:
    city: str            # the city's name, or "unassigned"
    city_slug: str | None
    stream: str
    currency: str
    gross: int = 0       # donations
    refunds: int = 0
    chargebacks: int = 0
    other: int = 0       # reversals and adjustments (assignments between queue and city)
    fees: int = 0        # where the provider told us (with the entry or later)
    reporting_net: int = 0
    reporting_currency: str = ""
    entries: int = 0
    test_mode: int = 0       # entries of test-mode money (Stripe test mode, the sandbox)
    fees_covered: int = 0    # of gross: what donors added to cover the fees
    converted_fees: list[ConvertedFee] = dataclasses.field(default_factory=list)
    rates: list[RateUsed] = dataclasses.field(default_factory=list)

    @property
    def net(self) -> int:
        return self.gross + self.refunds + self.chargebacks + self.other

    @property
    def net_after_fees(self) -> int:
        return self.net - self.fees


FIELDS = {EntryKind.donation: "gross", EntryKind.refund: "refunds",
          EntryKind.chargeback: "chargebacks", EntryKind.reversal: "other",
          EntryKind.adjustment: "other"}


def statement(session: Session, campaign: Campaign, city: City | None = None) -> list[StatementRow]:
    """The campaign's rows, or one city's."""
    query = (select(City.name, City.slug, LedgerEntry.stream, LedgerEntry.currency,
                    LedgerEntry.kind, func.sum(LedgerEntry.amount_minor),
                    func.coalesce(func.sum(func.coalesce(LedgerEntry.fee_minor,
                                                         EntryFee.entry_minor,
                                                         EntryFee.fee_minor)), 0),
                    func.sum(LedgerEntry.reporting_minor), func.count())
             .select_from(LedgerEntry)
             .outerjoin(City, and_(City.id == LedgerEntry.city_id))
             .outerjoin(EntryFee, EntryFee.entry_id == LedgerEntry.id)
             .where(LedgerEntry.campaign_id == campaign.id)
             .group_by(City.name, City.slug, LedgerEntry.stream, LedgerEntry.currency,
                       LedgerEntry.kind))
    if city is not None:
        query = query.where(LedgerEntry.city_id == city.id)
    rows: dict[tuple, StatementRow] = {}
    for name, slug, stream, currency, kind, amount, fees, reporting, count in session.execute(query):
        key = (name or "", stream, currency)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StatementRow(city=name or "unassigned", city_slug=slug,
                                           stream=stream, currency=currency,
                                           reporting_currency=campaign.currency)
        field = FIELDS[kind]
        setattr(row, field, getattr(row, field) + int(amount))
        row.fees += int(fees)  # a dispute's fee is lost money too
        row.reporting_net += int(reporting)
        row.entries += count
    _giving(session, campaign, city, rows)
    converted_fees = _converted_fees(campaign)
    if city is not None:
        converted_fees = converted_fees.where(LedgerEntry.city_id == city.id)
    for name, stream, currency, *converted in session.execute(converted_fees):
        rows[(name or "", stream, currency)].converted_fees.append(_converted(currency,
                                                                              *converted))
    used = (select(City.name, LedgerEntry.stream, LedgerEntry.currency,
                   LedgerEntry.reporting_currency, LedgerEntry.fx_rate, LedgerEntry.fx_date,
                   func.count())
            .select_from(LedgerEntry).outerjoin(City, City.id == LedgerEntry.city_id)
            .where(LedgerEntry.campaign_id == campaign.id,
                   LedgerEntry.currency != LedgerEntry.reporting_currency)
            .group_by(City.name, LedgerEntry.stream, LedgerEntry.currency,
                      LedgerEntry.reporting_currency, LedgerEntry.fx_rate, LedgerEntry.fx_date)
            .order_by(LedgerEntry.fx_date, LedgerEntry.fx_rate))
    if city is not None:
        used = used.where(LedgerEntry.city_id == city.id)
    for name, stream, currency, quote, rate, date, count in session.execute(used):
        rows[(name or "", stream, currency)].rates.append(
            RateUsed(currency, quote, rate, date.isoformat(), count))
    return sorted(rows.values(), key=lambda r: (r.city_slug is None, r.city, r.stream, r.currency))


def _giving(session: Session, campaign: Campaign, city: City | None, rows: dict) -> None:
    """Test-mode money and covered fees, which only donations made online carry (in meta)."""
    test_mode = LedgerEntry.meta["test_mode"].as_boolean()
    covered = LedgerEntry.meta["fee_covered_minor"].as_integer()
    query = (select(City.name, LedgerEntry.stream, LedgerEntry.currency,
                    func.count().filter(test_mode.is_(True)),
                    func.coalesce(func.sum(covered), 0))
             .select_from(LedgerEntry).outerjoin(City, City.id == LedgerEntry.city_id)
             .where(LedgerEntry.campaign_id == campaign.id,
                    LedgerEntry.kind == EntryKind.donation, LedgerEntry.meta.is_not(None),
                    LedgerEntry.stream.in_(("stripe", "paypal")))
             .group_by(City.name, LedgerEntry.stream, LedgerEntry.currency))
    if city is not None:
        query = query.where(LedgerEntry.city_id == city.id)
    for name, stream, currency, tests, fees in session.execute(query):
        row = rows.get((name or "", stream, currency))
        if row is not None:
            row.test_mode, row.fees_covered = int(tests), int(fees)


def by_stream(rows: list[StatementRow]) -> list[tuple[str, int]]:
    """Net per stream in the reporting currency (each entry at the rate recorded with it),
    largest first: where the money came from, added up."""
    totals: collections.Counter = collections.Counter()
    for row in rows:
        totals[row.stream] += row.reporting_net
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def _converted_fees(campaign: Campaign):
    return (select(City.name, LedgerEntry.stream, LedgerEntry.currency, EntryFee.currency,
                   func.sum(EntryFee.fee_minor), func.sum(EntryFee.entry_minor),
                   EntryFee.fx_rate, EntryFee.fx_date, EntryFee.fx_source)
            .select_from(EntryFee)
            .join(LedgerEntry, LedgerEntry.id == EntryFee.entry_id)
            .outerjoin(City, City.id == LedgerEntry.city_id)
            .where(LedgerEntry.campaign_id == campaign.id, EntryFee.entry_minor.is_not(None),
                   LedgerEntry.fee_minor.is_(None))
            .group_by(City.name, LedgerEntry.stream, LedgerEntry.currency, EntryFee.currency,
                      EntryFee.fx_rate, EntryFee.fx_date, EntryFee.fx_source)
            .order_by(EntryFee.fx_date, EntryFee.currency, EntryFee.fx_rate))


def _converted(currency, stated_currency, stated, converted, rate, date, source) -> ConvertedFee:
    return ConvertedFee(stated=Money(int(stated), stated_currency),
                        converted=Money(int(converted), currency), rate=rate,
                        date=date.isoformat(), source=source)


UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


NUMBER_RE = re.compile(r"-?\d+(\.\d+)?")


def csv_safe(value) -> str:
    """A spreadsheet must not run what someone typed: a cell starting with = + - @, a tab or
    a carriage return gets a leading apostrophe. A plain number (which we wrote ourselves,
    e.g. -25.00 for a refund) cannot be a formula and stays a number."""
    text = "" if value is None else str(value)
    if NUMBER_RE.fullmatch(text):
        return text
    return "'" + text if text.startswith(UNSAFE_START) else text
