"""Ticket sales: Eventbrite order/attendee exports, and any CSV read through a saved mapping.

One ledger entry per ORDER (the attendee rows of one order are added up), gross kept as the
amount, the organiser's fees (Eventbrite fee + payment processing) as ``fee_minor``, and the
order's own currency. The external id is the order number, so re-importing an export, or a
later export that repeats earlier orders, adds nothing. Refunded attendee rows become refund
entries linked to their order (one per attendee, so a later export adds only new refunds).
Ticket buyers did not ask to appear on a donor board: their entries are recorded anonymous.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import re
import zoneinfo
from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import select

from ..ledger import EntryKind, LedgerEntry, NewEntry
from ..ledger.bulk import record_many
from ..money import Money, MoneyError, check_currency, exponent, parse
from .importing import Context, ImportMapping, Item, MalformedFile, RowError, archive_rows, collect
from .registry import register

STREAM = "ticketing"

# Eventbrite has renamed its columns over the years; the first name found wins.
EVENTBRITE_COLUMNS = {
    "order": ("Order #", "Order no.", "Order ID", "Order Number"),
    "date": ("Order Date", "Order date", "Date"),
    "currency": ("Currency",),
    "gross": ("Total Paid", "Gross", "Order Total", "Gross Sales"),
    "eb_fee": ("Eventbrite Fees", "Eventbrite Fee"),
    "processing": ("Eventbrite Payment Processing", "Payment Processing Fee",
                   "Eventbrite Payment Processing Fee"),
    "attendee": ("Attendee #", "Attendee ID", "Ticket #"),
    "status": ("Attendee Status", "Order Status", "Status"),
    "order_type": ("Order Type", "Payment Type"),
    "first": ("Buyer First Name", "First Name"),
    "last": ("Buyer Last Name", "Last Name"),
}
NOT_UTF8 = "the file is not UTF-8 text; export it again as CSV UTF-8"
REFUNDED_STATUSES = {"refunded", "cancelled", "canceled", "deleted"}
EVENTBRITE_DATE_FORMATS = ("%m/%d/%y %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p",
                           "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%B %d, %Y %I:%M %p",
                           "%m/%d/%y", "%m/%d/%Y", "%Y-%m-%d")


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
        raise MalformedFile("the file has no header row") from None
    except csv.Error as exc:
        raise MalformedFile(f"line 1: {exc}") from None
    except UnicodeDecodeError:
        raise MalformedFile(NOT_UTF8) from None
    pop()
    if len(set(header)) != len(header):
        raise MalformedFile("the header row names a column twice")
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
                raise MalformedFile(f"line {start}: {exc}") from None
            except UnicodeDecodeError:
                raise MalformedFile(f"line {start}: {NOT_UTF8}") from None
            raw = pop()
            if not "".join(row).strip():   # blank cells only
                continue
            if len(row) != width:
                raise MalformedFile(f"line {start}: {len(row)} fields where the header has "
                                    f"{width}")
            yield start, row, raw
    return header, rows()


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
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
        raise RowError(f"amount {(text or '').strip()[:40]!r} is not a number")
    try:
        return parse(normalised, currency,
                     allow_negative=allow_negative, allow_zero=allow_zero)
    except MoneyError as exc:
        raise RowError(exc.message) from None


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


def _eventbrite_date(text: str, ctx: Context, cache: dict) -> dt.datetime:
    text = (text or "").strip()
    if text in cache:
        return cache[text]
    if len(cache) > 10_000:
        cache.clear()
    cache[text] = when = _read_eventbrite_date(text, ctx)
    return when


def _read_eventbrite_date(text: str, ctx: Context) -> dt.datetime:
    try:
        return localise(dt.datetime.fromisoformat(text), ctx)
    except ValueError:
        pass
    for fmt in EVENTBRITE_DATE_FORMATS:
        try:
            return localise(dt.datetime.strptime(text, fmt), ctx)
        except ValueError:
            continue
    raise RowError(f"order date {text[:40]!r} is not a date Eventbrite writes")


class _Order:
    __slots__ = ("order_id", "line", "occurred_at", "currency", "gross", "fee", "refunds",
                 "buyer", "raw", "attendees", "fee_known")

    def __init__(self, order_id, line, occurred_at, currency, buyer):
        self.order_id, self.line, self.occurred_at = order_id, line, occurred_at
        self.currency, self.buyer = currency, buyer
        self.gross = self.fee = 0
        self.fee_known = False
        self.refunds: list[list] = []
        self.raw: list[str] = []
        self.attendees: set[str] = set()

    def item(self) -> Item | None:
        if self.gross == 0:
            return None  # a free order: nothing to count
        return Item(line=self.line, external_id=f"eventbrite:{self.order_id}",
                    amount=Money(self.gross, self.currency), occurred_at=self.occurred_at,
                    raw="\n".join(self.raw), donor_name=self.buyer,
                    fee_minor=self.fee if self.fee_known else None,
                    refunded_minor=sum(minor for _key, minor in self.refunds),
                    meta={"order": self.order_id, "attendees": len(self.raw),
                          "refunds": self.refunds} if self.refunds or len(self.raw) > 1
                    else None)


def parse_eventbrite(source: BinaryIO, ctx: Context) -> Iterator[Item]:
    header, rows = read_csv(source)
    cols = {key: _column(header, names) for key, names in EVENTBRITE_COLUMNS.items()}
    missing = [EVENTBRITE_COLUMNS[key][0] for key in ("order", "date", "currency", "gross")
               if cols[key] is None]
    if missing:
        raise MalformedFile("this is not an Eventbrite order/attendee export: no "
                            + ", ".join(repr(m) for m in missing) + " column")
    try:
        first = next(rows)
    except StopIteration:
        raise MalformedFile("the export has a header but no orders") from None
    # Eventbrite writes the attendee rows of one order together; an order whose rows come
    # apart would be counted twice, so it is refused rather than guessed at (the staged rows
    # of the whole file are checked for a repeated order).
    ctx.repeat_error = lambda external_id: (
        f"order {external_id.removeprefix('eventbrite:')} appears again after other orders; "
        "export the report sorted by order")
    return collect(_eventbrite_builders(ctx, cols, first, rows))


def _eventbrite_builders(ctx, cols, first, rows):
    """Yield (line, build) pairs; a build returns the finished previous order, if any."""
    state = {"order": None}
    dates: dict[str, dt.datetime] = {}
    skipped_free = [0]
    order_col, currency_col, date_col = cols["order"], cols["currency"], cols["date"]
    first_col, last_col = cols["first"], cols["last"]
    add_attendee = _attendees(cols)

    def add(line: int, row: list[str], raw: str):
        def build() -> Item | None:
            order_id = (row[order_col] or "").strip()
            if not order_id:
                raise RowError("no order number")
            current = state["order"]
            finished = None
            if current is None or current.order_id != order_id:
                if current is not None:
                    finished = _finish(current)
                buyer = " ".join(filter(None, (
                    (row[first_col] or "").strip() if first_col is not None else "",
                    (row[last_col] or "").strip() if last_col is not None else ""))) or None
                try:
                    currency = check_currency((row[currency_col] or "").strip())
                except MoneyError as exc:
                    raise RowError(exc.message) from None
                current = _Order(order_id, line, _eventbrite_date(row[date_col], ctx, dates),
                                 currency, buyer)
                state["order"] = current
            add_attendee(current, row, raw, line)
            return finished
        return build

    def _finish(order: _Order) -> Item | None:
        item = order.item()
        if item is None:
            skipped_free[0] += 1
        return item

    yield first[0], add(*first)
    for line, row, raw in rows:
        yield line, add(line, row, raw)

    def last() -> Item | None:
        item = _finish(state["order"]) if state["order"] is not None else None
        if skipped_free[0]:
            ctx.report.rows += skipped_free[0]
            ctx.report.skipped += skipped_free[0]
            ctx.report.notes.append(f"{skipped_free[0]} free order(s) with nothing to count")
        return item
    yield 0, last


def _attendees(cols: dict[str, int | None]):
    """Adds an attendee row to its order (the columns looked up once, not on every row)."""
    attendee_col, gross_col, status_col = cols["attendee"], cols["gross"], cols["status"]
    fee_cols = [cols[key] for key in ("eb_fee", "processing") if cols[key] is not None]

    def add(order: _Order, row: list[str], raw: str, line: int) -> None:
        attendee = (row[attendee_col].strip() if attendee_col is not None else "") \
            or f"line{line}"
        if attendee in order.attendees:
            raise RowError(f"attendee {attendee} of order {order.order_id} is listed twice")
        order.attendees.add(attendee)
        order.raw.append(raw)
        paid = minor_units(row[gross_col] or "0", order.currency)
        order.gross += paid
        for col in fee_cols:
            text = row[col]
            if text is not None and text.strip():
                order.fee += minor_units(text, order.currency)
                order.fee_known = True
        if status_col is not None and row[status_col].strip().lower() in REFUNDED_STATUSES \
                and paid:
            order.refunds.append([attendee, paid])
    return add


# --- any CSV through a saved mapping ----------------------------------------------------------

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
            raise MalformedFile(f"mapping {mapping.name!r} expects a column {name!r}, "
                                f"which the file does not have")
        cols[key] = header[name.strip().lower()]
    try:
        first = next(rows)
    except StopIteration:
        raise MalformedFile("the file has a header but no rows") from None
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
                    raise RowError(exc.message) from None
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
                    raise RowError(f"date {text[:40]!r} does not match {date_format}") from None
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
                    raise RowError(f"no value in the id column {id_column!r}")
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


# --- recording ------------------------------------------------------------------------------

class TicketRecorder:
    """Records ticket orders: one entry per order, set-based SQL for most (``direct``); an
    order with refunded attendees is recorded here, with its refund entries linked to it."""

    PYTHON = frozenset({"refunds"})
    CLAIMS_ID = frozenset({"entry", "refunds"})   # every order takes its id (see ``direct``)
    archive_meta = False   # the entry keeps the order's meta
    note_sql = "NULL"
    fee_sql = "i.fee_minor"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.city_id = ctx.city.id if ctx.city else None

    def classify(self, item: Item) -> tuple[str, int | None]:
        return ("refunds" if item.refunded_minor else "entry"), self.city_id

    def record(self, batch: list[Item]) -> None:
        ctx, city_id = self.ctx, self.city_id
        news = [NewEntry(
            campaign_id=ctx.campaign.id, city_id=city_id, stream=STREAM,
            external_id=item.external_id, amount=item.amount,
            kind=EntryKind.donation if item.amount.minor > 0 else EntryKind.refund,
            occurred_at=item.occurred_at, donor_name=item.donor_name, anonymous=True,
            fee_minor=item.fee_minor, payload_id=ctx.payload.id,
            created_by_id=ctx.created_by_id, meta=item.meta) for item in batch]
        outcomes = record_many(ctx.session, news)
        archived = []
        for item, outcome in zip(batch, outcomes):
            state = ("imported" if city_id else "unassigned") if outcome.created else "duplicate"
            ctx.report.count(state, item.amount)
            archived.append((item, state))
        _refunds(ctx, [item for item in batch if item.refunded_minor], city_id)
        archive_rows(ctx, archived, with_meta=False)  # the entry keeps the order's meta

    def finish(self) -> None:
        pass


def _refunds(ctx: Context, items: list[Item], city_id: int | None) -> None:
    """One refund entry per refunded attendee, linked to the order's entry (a later export
    that refunds more attendees of the same order adds only the new ones)."""
    if not items:
        return
    order_ids = dict(ctx.session.execute(select(LedgerEntry.external_id, LedgerEntry.id).where(
        LedgerEntry.stream == STREAM,
        LedgerEntry.external_id.in_([item.external_id for item in items]))).all())
    news = [NewEntry(
        campaign_id=ctx.campaign.id, city_id=city_id, stream=STREAM,
        external_id=f"{item.external_id}:refund:{attendee}"[:200],
        amount=Money(-minor, item.amount.currency), kind=EntryKind.refund,
        occurred_at=item.occurred_at, anonymous=True,
        reverses_id=order_ids[item.external_id], payload_id=ctx.payload.id,
        created_by_id=ctx.created_by_id, note=f"attendee {attendee} refunded")
        for item in items for attendee, minor in item.meta["refunds"]]
    ctx.report.refunds += sum(outcome.created for outcome in record_many(ctx.session, news))


@register(STREAM)
def replay_ticketing(session, payload) -> None:
    from .importing import process
    process(session, payload)
