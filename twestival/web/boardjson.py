"""The board as a page sends it to static/live.js: every city row once, as a list of values
under one list of column names (a 1,000-city board's rows as objects repeated each name a
thousand times), and how this page's language writes each currency and percentage, taken
from the server's own formatting, so rows that live.js builds read exactly as rows rendered
here (Babel and the browser's Intl differ: "HUF1,234" and "HUF 1,234.00", say)."""
from __future__ import annotations

import functools
from operator import itemgetter

from babel import Locale
from babel.numbers import get_currency_precision, get_decimal_symbol, get_group_symbol

from ..money import Money, exponent, format_money


@functools.lru_cache(maxsize=1024)
def money_format(currency: str, locale: str) -> list:
    """[before the number, after it, fewest digits after the point, most]. Fewest: CLDR's,
    for display; most: the stored minor unit's, so no digit is rounded away
    (money.format_money: "HUF1,234" and "HUF1,234.56")."""
    most = exponent(currency)
    fewest = min(get_currency_precision(currency), most)
    one = format_money(Money(10 ** most, currency), locale)
    number = "1" + (get_decimal_symbol(locale) + "0" * fewest if fewest else "")
    at = one.index(number)
    return [one[:at], one[at + len(number):], fewest, most]


@functools.lru_cache(maxsize=64)
def number_format(locale: str) -> dict:
    pattern = Locale.parse(locale).percent_formats[None].pattern.split(";")[0].replace("'", "")
    before, _, after = pattern.partition("#,##0")
    return {"decimal": get_decimal_symbol(locale), "group": get_group_symbol(locale),
            "percent": [before, after]}


def compact(board: dict, locale: str) -> dict:
    rows = board.get("cities") or []
    columns = list(rows[0]) if rows else []
    out = {key: value for key, value in board.items() if key != "cities"}
    out["city_columns"] = columns
    values = itemgetter(*columns) if rows else None   # every row has the same keys
    out["city_rows"] = [values(row) for row in rows]
    currencies = {board.get("currency")} | {row["currency"] for row in rows}
    currencies |= {g["currency"] for g in board.get("gifts") or []}
    currencies |= {m["currency"] for m in board.get("matches") or []}
    out["formats"] = {**number_format(locale), "money": {
        c: money_format(c, locale) for c in sorted(currencies - {None})}}
    return out

