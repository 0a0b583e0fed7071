"""Reading CSV exports: decoding, columns by any of their known names, amounts written as
exports write them (exactly, never through floats), and local times."""
from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import re
import zoneinfo
from collections.abc import Iterator
from typing import BinaryIO

from ...languages import N_
from ...money import Money, MoneyError, exponent, parse
from .rows import Context, MalformedFile, RowError

NOT_UTF8 = N_("the file is not UTF-8 text; export it again as CSV UTF-8")


def read_csv(source: BinaryIO, delimiter: str = ","
             ) -> tuple[list[str], Iterator[tuple[int, list[str], str]]]:
    """The header, and (line number, the row's cells in the header's order, the row verbatim)
    for each record.

    The text is decoded as it is read (a large file is never held twice)."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", newline="")
    taken: list[str] = []   # the physical lines of the record the reader is on

    def lines() -> Iterator[str]:
        for line in text:
            taken.append(line)
            yield line

    def pop() -> str:
        raw = "".join(taken)
        taken.clear()
        return raw.rstrip("\r\n")

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise MalformedFile(N_("the file has no header row")) from None
    except csv.Error as exc:
        raise MalformedFile(N_("line %(line)s: %(error)s"), line=1, error=str(exc)) from None
    except UnicodeDecodeError:
        raise MalformedFile(NOT_UTF8) from None
    pop()
    if len(set(header)) != len(header):
        raise MalformedFile(N_("the header row names a column twice"))
    width = len(header)

    def rows():
        read = reader.__next__
        while True:
            start = reader.line_num + 1
            try:
                row = read()
            except StopIteration:
                return
            except csv.Error as exc:
                raise MalformedFile(N_("line %(line)s: %(error)s"), line=start, error=str(exc)) from None
            except UnicodeDecodeError:
                raise MalformedFile(N_("line %(line)s: the file is not UTF-8 text; export it again as "
                                    "CSV UTF-8"), line=start) from None
            raw = pop()
            if not "".join(row).strip():   # blank cells only
                continue
            if len(row) != width:
                raise MalformedFile(N_("line %(line)s: %(fields)s fields where the header has "
                                       "%(width)s"), line=start, fields=len(row), width=width)
            yield start, row, raw
    return header, rows()


def column(header: list[str], names: tuple[str, ...]) -> int | None:
    """Where the first of ``names`` found in the header is, whatever its case."""
    folded = {h.strip().lower(): n for n, h in enumerate(header)}
    for name in names:
        if name.lower() in folded:
            return folded[name.lower()]
    return None


def amount_text(text: str, decimal_separator: str = ".") -> str:
    """Normalise '1,234.50', '1.234,50', '£12.00', '12.00 EUR' to '1234.50'."""
    value = re.sub(r"[\s\u00a0'’]", "", text or "")
    value = re.sub(r"^[^\d+\-.,]+|[^\d.,]+$", "", value)  # currency signs or codes
    thousands = "," if decimal_separator == "." else "."
    value = value.replace(thousands, "")
    if decimal_separator == ",":
        value = value.replace(",", ".")
    return value


def to_money(text: str, currency: str, decimal_separator: str = ".", *,
             allow_negative: bool = False, allow_zero: bool = False) -> Money:
    normalised = amount_text(text, decimal_separator)
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", normalised):
        raise RowError(N_("amount %(amount)r is not a number"), amount=(text or "").strip()[:40])
    try:
        return parse(normalised, currency,
                     allow_negative=allow_negative, allow_zero=allow_zero)
    except MoneyError as exc:
        raise RowError.of(exc) from None


PLAIN_AMOUNT_RE = re.compile(r"(-?)(\d{1,15})(?:[.,](\d{1,3}))?")


@functools.lru_cache(maxsize=4096)   # fees and prices repeat on most rows of an export
def minor_units(text: str, currency: str, decimal_separator: str = ".", *,
                allow_negative: bool = False) -> int:
    """Minor units of an amount; a plain '12.50' (or '-12,50' with a decimal comma) skips the
    general parser, which costs more than the rest of a row."""
    text = text.strip()
    plain = PLAIN_AMOUNT_RE.fullmatch(text)
    if plain and (plain.group(3) is None or text[-len(plain.group(3)) - 1] == decimal_separator):
        sign, whole, fraction = plain.groups()
        places = exponent(currency)
        if len(fraction or "") <= places and (allow_negative or not sign):
            minor = int(whole) * 10 ** places + (int((fraction or "").ljust(places, "0"))
                                                 if places else 0)
            return -minor if sign else minor
    return to_money(text, currency, decimal_separator, allow_negative=allow_negative,
                    allow_zero=True).minor


def localise(naive: dt.datetime, ctx: Context) -> dt.datetime:
    """A time without an offset is read in the city's own time zone (else UTC)."""
    if naive.tzinfo is not None:
        return naive
    zone = zoneinfo.ZoneInfo(ctx.city.timezone) if ctx.city else dt.timezone.utc
    return naive.replace(tzinfo=zone)
