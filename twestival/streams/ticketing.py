"""Ticket sales: Eventbrite order/attendee exports, and any CSV read through a saved mapping.

One ledger entry per ORDER (the attendee rows of one order are added up), gross kept as the
amount, the organiser's fees (Eventbrite fee + payment processing) as ``fee_minor``, and the
order's own currency. The external id is the order number, so re-importing an export, or a
later export that repeats earlier orders, adds nothing. Refunded attendee rows become refund
entries linked to their order (one per attendee, so a later export adds only new refunds).
Ticket buyers did not ask to appear on a donor board: their entries are recorded anonymous.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import select

from ..languages import N_
from ..ledger import EntryKind, LedgerEntry, NewEntry
from ..ledger.bulk import record_many
from ..money import Money, MoneyError, check_currency
from ..phrases import Phrase
from .files.csvtext import column, localise, minor_units, read_csv
from .files.rows import Context, Item, MalformedFile, RowError, archive_rows, collect

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
REFUNDED_STATUSES = {"refunded", "cancelled", "canceled", "deleted"}
EVENTBRITE_DATE_FORMATS = ("%m/%d/%y %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p",
                           "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%B %d, %Y %I:%M %p",
                           "%m/%d/%y", "%m/%d/%Y", "%Y-%m-%d")


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
    raise RowError(N_("order date %(date)r is not a date Eventbrite writes"), date=text[:40])


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
    cols = {key: column(header, names) for key, names in EVENTBRITE_COLUMNS.items()}
    missing = [EVENTBRITE_COLUMNS[key][0] for key in ("order", "date", "currency", "gross")
               if cols[key] is None]
    if missing:
        raise MalformedFile(N_("this is not an Eventbrite order/attendee export: no %(columns)s "
                               "column"), columns=", ".join(repr(m) for m in missing))
    try:
        first = next(rows)
    except StopIteration:
        raise MalformedFile(N_("the export has a header but no orders")) from None
    # Eventbrite writes the attendee rows of one order together; an order whose rows come
    # apart would be counted twice, so it is refused rather than guessed at (the staged rows
    # of the whole file are checked for a repeated order).
    ctx.repeat_error = lambda external_id: Phrase(
        N_("order %(order)s appears again after other orders; export the report sorted by "
           "order"), {"order": external_id.removeprefix("eventbrite:")})
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
                raise RowError(N_("no order number"))
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
                    raise RowError.of(exc) from None
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
            ctx.report.notes.append(Phrase(N_("%(n)s free order(s) with nothing to count"),
                                           {"n": skipped_free[0]}))
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
            raise RowError(N_("attendee %(attendee)s of order %(order)s is listed twice"),
                           attendee=attendee, order=order.order_id)
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

