"""Bank statements (CAMT.053/054, MT940, OFX, CSV through a mapping) into the ledger.

Each credit is matched to a city by the city's ``bank_reference`` in the remittance text.
An unmatched (or ambiguous) credit is recorded to the campaign's unassigned queue
(``city_id=None``): the money has arrived, so it counts in the campaign total at once and is
never dropped, and the spine's ``ledger.assign`` moves it to a city later as an audited pair
of adjustments. A separate review table would have kept money out of the ledger until someone
looked at it, and given the unassigned queue of other streams (Stripe without a city) a twin.

Debits are reported, not counted. Credits naming Stripe or PayPal (or a Stripe payout id) are
payouts of money already counted through those streams: reported, not counted. A credit that
matches an open provisional cash entry of the same city, currency and amount confirms that
entry (``ledger.confirm(method="bank")``) instead of being counted a second time.

A reversal of a credit (money taken back) undoes the counted credit it names with a linked
reversal entry, or waits for review when that credit cannot be told (``reversals``). A
credit that gives back money of a payment of ours (a reversal of a debit, a transfer of ours
returned by the payee's bank, a direct debit refunded; ``codes``) undid a debit we never
counted: reported with the debits, not counted. Interest and dividends the bank pays us (told
by its codes, ``codes.interest``) are no one's gift either: reported, not counted.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import BinaryIO

from sqlalchemy import select

from ...ledger import EntryConfirmation, EntryKind, LedgerEntry, NewEntry, confirm
from ...ledger.bulk import record_many
from ...campaigns.models import City
from ...languages import N_
from ...phrases import Phrase
from ..files.rows import Context, Item, archive_rows, at_line
from . import camt053, matching, mt940, ofx, reversals
from .lines import items

STREAM = "bank"
SKIPPED_STATUSES = {"PDNG", "INFO"}


# Statements are read whole: the XML/MT940/OFX parsers need all of it, and statements are small.

def parse_camt053(source: BinaryIO, ctx: Context) -> Iterator[Item]:
    return items(camt053.parse(source.read()))


def parse_mt940(source: BinaryIO, ctx: Context) -> Iterator[Item]:
    return items(mt940.parse(source.read(), ctx.currency))


def parse_ofx(source: BinaryIO, ctx: Context) -> Iterator[Item]:
    return items(ofx.parse(source.read(), ctx.report.notes, ctx.currency))


class _OpenCash:
    """Provisional cash entries still waiting for their bank deposit, by city and amount."""

    def __init__(self, ctx: Context):
        confirmed = select(EntryConfirmation.entry_id)
        reversed_ = select(LedgerEntry.reverses_id).where(LedgerEntry.reverses_id.is_not(None))
        rows = ctx.session.execute(
            select(LedgerEntry.id, LedgerEntry.city_id, LedgerEntry.currency,
                   LedgerEntry.amount_minor)
            .where(LedgerEntry.campaign_id == ctx.campaign.id, LedgerEntry.stream == "cash",
                   LedgerEntry.provisional.is_(True), LedgerEntry.kind == EntryKind.donation,
                   LedgerEntry.id.not_in(confirmed), LedgerEntry.id.not_in(reversed_))
            .order_by(LedgerEntry.occurred_at)).all()
        self.open: dict[tuple, list[int]] = defaultdict(list)
        for entry_id, city_id, currency, minor in rows:
            self.open[(city_id, currency, minor)].append(entry_id)
        # Bank lines that already confirmed cash: a re-import must not count them again.
        self.used = set(ctx.session.scalars(
            select(EntryConfirmation.reference).where(EntryConfirmation.method == "bank")))

    def take(self, city_id: int, item: Item) -> int | None:
        waiting = self.open.get((city_id, item.amount.currency, item.amount.minor))
        return waiting.pop(0) if waiting else None


class BankRecorder:
    """Classifies each line in the check pass (so the recording pass can run as set-based SQL,
    ``direct``) and records what needs Python: cash confirmations, reversals, and on databases
    without the direct path every line."""

    # Line outcomes recorded here rather than by the direct path's SQL (interest: to say when
    # an earlier import counted the line).
    PYTHON = frozenset({"reversal", "cash", "interest"})
    # Outcomes of lines that take their id in file order: a later line with the same id is a
    # duplicate (a reversal is recorded after every credit, interest records nothing).
    CLAIMS_ID = frozenset({"entry", "cash"})
    archive_meta = True
    note_sql = "NULLIF(substr(i.reference, 1, 500), '')"   # the remittance text, as below
    fee_sql = "NULL"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        cities = list(ctx.session.scalars(select(City).where(City.campaign_id == ctx.campaign.id)))
        self.matcher = matching.Matcher(cities)
        self.cash = _OpenCash(ctx)
        self.undoing: list[Item] = []
        # Credits that name no city go to the import's city, if it names one.
        self.default_city_id = ctx.city.id if ctx.city is not None else None

    def classify(self, item: Item) -> tuple[str, int | None]:
        """(outcome, city id): "entry" for a credit to count, "cash" for one that may confirm
        a cash entry, "reversal", or the word of a line that is not counted."""
        outcome = self._classify(item)
        if isinstance(outcome, str):
            return outcome, None
        cash = self.cash
        if item.external_id in cash.used or (
                outcome is not None
                and (outcome, item.amount.currency, item.amount.minor) in cash.open):
            return "cash", outcome
        return "entry", outcome

    def _classify(self, item: Item) -> str | int | None:
        """An outcome word for lines that are not counted, else the city id (None:
        unassigned)."""
        meta, minor = item.meta, item.amount.minor
        if meta:
            if minor == 0 or (meta.get("status") or "").upper() in SKIPPED_STATUSES:
                return "skipped"
            if meta.get("reversal"):
                if minor < 0:
                    return "reversal"  # money taken back: undo the credit it reverses
                # Money back for a payment of ours (a transfer returned, a debit refunded or
                # reversed): it is no one's gift, so it is reported with the debits, not
                # counted.
                return "returned"
            if meta.get("interest"):
                return "interest"  # the bank paying us (parsers mark credits only)
        elif minor == 0:
            return "skipped"
        if minor < 0:
            return "debit"
        marker = matching.payout_marker(item.reference) or matching.payout_marker(item.donor_name)
        if marker:
            item.meta = {**(meta or {}), "payout": marker}
            return "payout"
        matcher = self.matcher
        named = matcher.named(item.reference)
        if not named:
            return self.default_city_id
        if len(named) == 1:
            return matcher.ids[named[0]]
        self.ctx.report.notes.append(at_line(item.line, Phrase(
            N_("the reference names several cities (%(cities)s); left unassigned"),
            {"cities": ", ".join(matcher.known[n].slug for n in named)})))
        return None

    def record(self, batch: list[Item]) -> None:
        """Record a batch of classified lines (reversals wait for ``finish``)."""
        ctx, cash = self.ctx, self.cash
        archived: list[tuple[Item, str]] = []
        credits: list[tuple[Item, int | None]] = []
        for item in batch:
            if item.outcome == "reversal":
                self.undoing.append(item)  # once every credit of the file is recorded
                continue
            if item.outcome not in ("entry", "cash"):
                if item.outcome == "interest":
                    _counted_before(ctx, item)
                archived.append((item, item.outcome))
                ctx.report.count(item.outcome, item.amount)
                continue
            city_id = item.city_id
            if item.external_id in cash.used:
                archived.append((item, "duplicate"))
                ctx.report.count("duplicate")
                continue
            cash_id = cash.take(city_id, item) if city_id is not None else None
            if cash_id is not None and confirm(ctx.session, cash_id, method="bank",
                                               by_user_id=ctx.created_by_id,
                                               reference=item.external_id):
                cash.used.add(item.external_id)
                item.meta = {**(item.meta or {}), "confirmed_entry": cash_id}
                archived.append((item, "confirmed"))
                ctx.report.count("confirmed")
                continue
            credits.append((item, city_id))
        news = [NewEntry(
            campaign_id=ctx.campaign.id, city_id=city_id, stream=STREAM,
            external_id=item.external_id, amount=item.amount, kind=EntryKind.donation,
            occurred_at=item.occurred_at, donor_name=item.donor_name, anonymous=True,
            payload_id=ctx.payload.id, created_by_id=ctx.created_by_id,
            note=(item.reference or "")[:500] or None, meta=item.meta) for item, city_id in credits]
        for (item, city_id), result in zip(credits, record_many(ctx.session, news)):
            state = ("imported" if city_id is not None else "unassigned") if result.created \
                else "duplicate"
            ctx.report.count(state, item.amount)
            archived.append((item, state))
        archive_rows(ctx, archived)

    def finish(self) -> None:
        archive_rows(self.ctx, [_undo(self.ctx, item) for item in self.undoing])


def _counted_before(ctx: Context, item: Item) -> None:
    """Say so when an import from before interest was told apart counted this line as a gift:
    that entry still counts, and taking money out of a total is a coordinator's decision."""
    earlier = ctx.session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.stream == STREAM, LedgerEntry.external_id == item.external_id))
    if earlier is not None:
        ctx.report.notes.append(at_line(item.line, Phrase(
            N_("interest paid by the bank, but an earlier import counted it as a gift (entry "
               "%(entry)s), which still counts"), {"entry": earlier})))


def _undo(ctx: Context, item: Item) -> tuple[Item, str]:
    """Record the reversal of the credit ``item`` takes back, or leave it for review."""
    existing = ctx.session.scalar(select(LedgerEntry.id).where(
        LedgerEntry.stream == STREAM, LedgerEntry.external_id == item.external_id))
    if existing is not None:
        ctx.report.count("duplicate")
        return item, "duplicate"
    credit, why = reversals.find_credit(ctx.session, ctx.campaign.id, item)
    if credit is None:
        item.meta = reversals.review_meta(item, why)
        ctx.report.notes.append(at_line(item.line, why))
        ctx.report.count("review")
        return item, "review"
    entry = reversals.undo(ctx.session, credit, external_id=item.external_id,
                           amount=item.amount, occurred_at=item.occurred_at,
                           payload_id=ctx.payload.id, created_by_id=ctx.created_by_id,
                           note=(item.reference or "")[:500] or None, meta=item.meta or {}).entry
    item.meta = entry.meta
    ctx.report.count("reversal", item.amount)
    return item, "reversal"

