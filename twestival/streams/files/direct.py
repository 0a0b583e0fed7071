"""Recording a checked file straight from its staging file, in SQL (SQLite only).

Turning a million staged rows back into Python objects and binding them into INSERTs cost
several times the database's own work. On SQLite the staging file is attached to the
connection instead, and each chunk is recorded by INSERT .. SELECT: its ledger entries (ON
CONFLICT DO NOTHING, as ``ledger.record_many``), what became of each row (``import_row``), the
report's counts and the totals' sums, all in SQL. The rows are the ones ``record_many`` would
write: amounts converted exactly in Python (once per distinct amount, currency, day and target
currency, before recording), rates and their dates kept, totals moved in the same transaction.
Rows that need more than an insert (an order with refunded attendees, a bank line that may
confirm a cash entry, a reversal) are recorded by the stream's own Python in the same chunk.
"""
from __future__ import annotations

import collections
import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...campaigns.models import City
from ...storage.database import attached, read_only, utcnow
from ...ledger import fx, totals
from ...ledger.bulk import add_to_totals
from ...money import Money, convert
from .rows import Context, Item
from .staging import Staging

PYTHON_BATCH = 20

# Ledger columns, in the order the SELECT below gives them.
LEDGER_COLUMNS = (
    "campaign_id, city_id, stream, external_id, kind, amount_minor, currency, fee_minor, "
    "city_minor, city_fx_rate, city_fx_date, reporting_minor, reporting_currency, fx_rate, "
    "fx_date, occurred_at, recorded_at, donor_name, anonymous, provisional, payload_id, "
    "created_by_id, note, meta")


def available(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def record(ctx: Context, recorder, staged: Staging, size: int,
           progress: Callable[[int], None] | None) -> None:
    """Record every staged row, ``size`` rows per committed chunk."""
    with read_only():   # it reads cities and rates: no write lock while it works
        _prepare(ctx, recorder, staged)
    python = sorted(recorder.PYTHON)
    sql = _statements(recorder, python)
    base = {"payload": ctx.payload.id, "stream": ctx.payload.stream,
            "campaign": ctx.campaign.id, "reporting": ctx.campaign.currency,
            "created_by": ctx.created_by_id}
    rest: list[Item] = []
    with attached(staged.path, "stage", cleanup=("DROP TABLE IF EXISTS temp.import_outcome",)):
        for first, last in staged.ranges(ctx.session, size, progress):
            # As SQLAlchemy stores a UTCDateTime: the chunk's entries are found by it below.
            now = utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")
            params = {**base, "first": first, "last": last, "now": now}
            connection = ctx.session.connection()
            for statement in sql["record"]:
                connection.exec_driver_sql(statement, params)
            _count(ctx, connection, sql)
            _move_totals(ctx, connection, sql)
            # The stream's Python costs a round of look-ups per call, a few rows per chunk
            # would pay it every chunk: its rows are gathered, then recorded in the chunk
            # that completes a batch (and in the last one).
            rest += staged.items(first, last, python)
            if len(rest) >= PYTHON_BATCH or (rest and last == staged.count):
                recorder.record(rest)
                rest = []


def _prepare(ctx: Context, recorder, staged: Staging) -> None:
    """Before recording: later rows with an id an earlier row of the file has are marked
    duplicates (as ``record_many`` counts only the first), and every amount that goes to
    another currency is converted, into the staging file's ``conv`` table."""
    db = staged.db
    if ctx.repeat_error is None:   # else the check pass has refused any repeat already
        claiming = sorted(recorder.CLAIMS_ID)
        marks = ", ".join("?" * len(claiming))
        db.execute("CREATE INDEX item_external_id ON item (external_id)")
        db.execute(f"UPDATE item SET outcome = 'repeat' WHERE outcome = 'entry' AND EXISTS ("
                   f"SELECT 1 FROM item AS earlier WHERE earlier.external_id = item.external_id "
                   f"AND earlier.seq < item.seq AND earlier.outcome IN ({marks}))", claiming)
    db.execute("CREATE TABLE city (id INTEGER PRIMARY KEY, currency TEXT NOT NULL)")
    db.executemany("INSERT INTO city VALUES (?, ?)", ctx.session.execute(
        select(City.id, City.currency).where(City.campaign_id == ctx.campaign.id)).all())
    db.execute("CREATE TABLE conv (currency TEXT, quote TEXT, day TEXT, amount_minor INTEGER, "
               "minor INTEGER NOT NULL, rate TEXT NOT NULL, rate_date TEXT NOT NULL, "
               "PRIMARY KEY (currency, quote, day, amount_minor)) WITHOUT ROWID")
    wanted = db.execute(
        "SELECT DISTINCT currency, ?1, day, amount_minor FROM item "
        "WHERE outcome = 'entry' AND currency != ?1 "
        "UNION SELECT DISTINCT i.currency, c.currency, i.day, i.amount_minor FROM item AS i "
        "JOIN city AS c ON c.id = i.city_id WHERE i.outcome = 'entry' AND i.currency != c.currency",
        (ctx.campaign.currency,))
    insert = "INSERT INTO conv VALUES (?, ?, ?, ?, ?, ?, ?)"
    while rows := wanted.fetchmany(5000):
        db.executemany(insert, [_converted(ctx, *row) for row in rows])
    db.commit()
    ctx.session.commit()   # ends the read transaction of the look-ups


def _converted(ctx: Context, currency: str, quote: str, day: str, minor: int) -> tuple:
    # _check_rates has looked every rate up already: fx answers from its cache.
    rate = fx.rate_for(ctx.session, currency, quote, dt.date.fromisoformat(day))
    return (currency, quote, day, minor, convert(Money(minor, currency), rate).minor, rate.text,
            rate.date.isoformat())


def _statements(recorder, python: list[str]) -> dict:
    chunk = "i.seq BETWEEN :first AND :last"
    not_python = f"i.outcome NOT IN ({', '.join(repr(word) for word in python)})"
    same_city = "c.currency = i.currency"
    same_reporting = "i.currency = :reporting"
    entries = f"""
        INSERT INTO main.ledger_entry ({LEDGER_COLUMNS})
        SELECT :campaign, i.city_id, :stream, i.external_id,
               CASE WHEN i.amount_minor > 0 THEN 'donation' ELSE 'refund' END,
               i.amount_minor, i.currency, {recorder.fee_sql},
               CASE WHEN i.city_id IS NULL THEN NULL WHEN {same_city} THEN i.amount_minor
                    ELSE cc.minor END,
               cc.rate, cc.rate_date,
               CASE WHEN {same_reporting} THEN i.amount_minor ELSE rc.minor END, :reporting,
               CASE WHEN {same_reporting} THEN '1' ELSE rc.rate END,
               CASE WHEN {same_reporting} THEN i.day ELSE rc.rate_date END,
               i.occurred_utc, :now, i.donor_name, 1, 0, :payload, :created_by,
               {recorder.note_sql}, i.meta
        FROM stage.item AS i
        LEFT JOIN stage.city AS c ON c.id = i.city_id
        LEFT JOIN stage.conv AS cc ON cc.currency = i.currency AND cc.quote = c.currency
             AND cc.day = i.day AND cc.amount_minor = i.amount_minor
        LEFT JOIN stage.conv AS rc ON rc.currency = i.currency AND rc.quote = :reporting
             AND rc.day = i.day AND rc.amount_minor = i.amount_minor
        WHERE {chunk} AND i.outcome = 'entry' ORDER BY i.seq
        ON CONFLICT (stream, external_id) DO NOTHING"""
    # What became of each row: an entry stamped with this chunk's time is one it wrote (the
    # others were there already, or a concurrent writer won the race for the id).
    outcomes = f"""
        INSERT INTO temp.import_outcome (seq, outcome, entry_id)
        SELECT i.seq,
               CASE WHEN i.outcome = 'repeat' THEN 'duplicate'
                    WHEN i.outcome != 'entry' THEN i.outcome
                    WHEN e.recorded_at = :now AND e.payload_id = :payload THEN
                         CASE WHEN i.city_id IS NULL THEN 'unassigned' ELSE 'imported' END
                    ELSE 'duplicate' END,
               e.id
        FROM stage.item AS i
        LEFT JOIN main.ledger_entry AS e ON i.outcome = 'entry' AND e.stream = :stream
             AND e.external_id = i.external_id
        WHERE {chunk} AND {not_python}"""
    archive = f"""
        INSERT INTO main.import_row (payload_id, line, external_id, body, outcome, meta)
        SELECT :payload, i.line, i.external_id, i.raw, o.outcome,
               {"i.meta" if recorder.archive_meta else "NULL"}
        FROM temp.import_outcome AS o JOIN stage.item AS i ON i.seq = o.seq
        WHERE true ORDER BY o.seq
        ON CONFLICT (payload_id, line, external_id) DO NOTHING"""
    return {
        "record": ["CREATE TEMP TABLE IF NOT EXISTS import_outcome "
                   "(seq INTEGER PRIMARY KEY, outcome TEXT NOT NULL, entry_id INTEGER)",
                   "DELETE FROM temp.import_outcome", entries, outcomes, archive],
        "report": """
            SELECT o.outcome, i.currency, count(*), sum(i.amount_minor)
            FROM temp.import_outcome AS o JOIN stage.item AS i ON i.seq = o.seq
            GROUP BY o.outcome, i.currency""",
        "totals": """
            SELECT e.city_id, e.currency, e.kind, count(*), sum(e.amount_minor),
                   sum(e.city_minor), sum(e.reporting_minor)
            FROM temp.import_outcome AS o JOIN main.ledger_entry AS e ON e.id = o.entry_id
            WHERE o.outcome IN ('imported', 'unassigned')
            GROUP BY e.city_id, e.currency, e.kind""",
    }


def _count(ctx: Context, connection, sql: dict) -> None:
    for outcome, currency, rows, minor in connection.exec_driver_sql(sql["report"]):
        ctx.report.count_many(outcome, rows, currency, minor)


def _move_totals(ctx: Context, connection, sql: dict) -> None:
    """The chunk's new entries moved the totals as ``record_many`` would: imports are neither
    provisional nor reversals, so a donation counts one and a refund none."""
    cities: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0, ctx.campaign.id])
    unassigned: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    recorded = ctx.session.info.setdefault(totals.RECORDED_KEY, collections.Counter())
    for city_id, currency, kind, rows, amount, city_minor, reporting in \
            connection.exec_driver_sql(sql["totals"]):
        recorded[ctx.payload.stream, kind] += rows
        if city_id is None:
            sums = unassigned[(ctx.campaign.id, currency)]
            sums[0] += amount
            sums[1] += reporting
            sums[2] += rows
        else:
            sums = cities[city_id]
            sums[0] += city_minor
            sums[1] += reporting
            sums[4] += rows if kind == "donation" else 0
    add_to_totals(ctx.session, cities, unassigned)
