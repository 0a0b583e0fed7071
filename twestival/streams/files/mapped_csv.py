"""Any CSV, read through a saved column mapping (``mappings``): ticket sales from other
platforms, or a bank's own CSV export when the mapping's kind is "bank"."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import BinaryIO

from ...languages import N_
from ...money import Money, MoneyError, check_currency
from .csvtext import localise, minor_units, read_csv, to_money
from .mappings import ImportMapping
from .rows import Context, Item, MalformedFile, RowError, collect


def parse_mapped_csv(source: BinaryIO, ctx: Context) -> Iterator[Item]:
    mapping: ImportMapping = ctx.mapping
    names, rows = read_csv(source, mapping.delimiter or ",")
    header = {h.strip().lower(): n for n, h in enumerate(names)}
    wanted = {"date": mapping.date_column, "amount": mapping.amount_column,
              "currency": mapping.currency_column, "reference": mapping.reference_column,
              "donor": mapping.donor_column, "external_id": mapping.external_id_column,
              "fee": mapping.fee_column}
    cols: dict[str, int | None] = {}
    for key, name in wanted.items():
        if not name:
            cols[key] = None
            continue
        if name.strip().lower() not in header:
            raise MalformedFile(N_("mapping %(mapping)r expects a column %(column)r, which the "
                                   "file does not have"), mapping=mapping.name, column=name)
        cols[key] = header[name.strip().lower()]
    try:
        first = next(rows)
    except StopIteration:
        raise MalformedFile(N_("the file has a header but no rows")) from None
    # The mapping's settings, read once (attributes of a mapped object cost on every row).
    default_currency, separator = mapping.default_currency, mapping.decimal_separator
    date_format, id_column = mapping.date_format, mapping.external_id_column
    prefix = f"csv:{mapping.name}:"
    date_col, amount_col, currency_col = cols["date"], cols["amount"], cols["currency"]
    reference_col, donor_col, fee_col = cols["reference"], cols["donor"], cols["fee"]
    id_col = cols["external_id"]
    seen: dict[str, int] = {}
    dates: dict[str, dt.datetime] = {}   # statements repeat a day on many lines
    amounts: dict[tuple, Money] = {}     # and amounts, by (currency, amount) as written

    def builder(line: int, row: list[str], raw: str):
        def build() -> Item:
            currency = default_currency
            if currency_col is not None and (row[currency_col] or "").strip():
                currency = row[currency_col].strip()
            text = row[amount_col] or ""
            amount = amounts.get((currency, text))
            if amount is None:
                try:
                    checked = check_currency(currency)
                except MoneyError as exc:
                    raise RowError.of(exc) from None
                minor = minor_units(text, checked, separator, allow_negative=True)
                if minor == 0:
                    to_money(text, checked, separator)   # says why zero is refused
                amount = Money(minor, checked)
                if len(amounts) > 10_000:
                    amounts.clear()
                amounts[(currency, text)] = amount
            currency = amount.currency
            text = (row[date_col] or "").strip()
            when = dates.get(text)
            if when is None:
                try:
                    when = localise(dt.datetime.strptime(text, date_format), ctx)
                except ValueError:
                    raise RowError(N_("date %(date)r does not match %(format)s"), date=text[:40],
                                   format=date_format) from None
                if len(dates) > 10_000:
                    dates.clear()
                dates[text] = when
            reference = (row[reference_col] or "").strip() if reference_col is not None else None
            donor = (row[donor_col] or "").strip()[:200] if donor_col is not None else None
            fee = None
            if fee_col is not None and (row[fee_col] or "").strip():
                fee = abs(to_money(row[fee_col], currency, separator,
                                   allow_negative=True, allow_zero=True).minor)
            if id_col is not None:
                own = (row[id_col] or "").strip()
                if not own:
                    raise RowError(N_("no value in the id column %(column)r"), column=id_column)
                key = own
            else:
                # No id of their own: the row's content, and which repeat of it this is.
                fingerprint = "|".join((when.isoformat(), str(amount), reference or "",
                                        donor or ""))
                seen[fingerprint] = seen.get(fingerprint, 0) + 1
                key = hashlib.sha256(f"{fingerprint}|{seen[fingerprint]}".encode()).hexdigest()[:40]
            return Item(line=line, external_id=(prefix + key)[:200], amount=amount,
                        occurred_at=when, raw=raw, reference=reference, donor_name=donor or None,
                        fee_minor=fee)
        return build

    def builders():
        yield first[0], builder(*first)
        for line, row, raw in rows:
            yield line, builder(line, row, raw)
    return collect(builders())
