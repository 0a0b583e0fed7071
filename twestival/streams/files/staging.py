"""The checked rows of one file, kept in a private temporary SQLite file between the check
pass and the record pass, so a million-row file costs no more memory than a small one."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy.orm import Session

from ...languages import N_
from ...ledger.totals import CHANGES_KEY
from ...money import Money
from ...storage import writelock
from .rows import Context, Item, MalformedFile, at_line

STAGE_BATCH = 5_000


class Staging:
    """The checked rows of one file, in a private temporary SQLite file (deleted on exit): the
    first pass writes them, the second reads them back in order (or, on SQLite, records them
    straight from this file: ``direct``), so neither holds the file's rows in memory."""

    COLUMNS = ("line", "external_id", "amount_minor", "currency", "occurred_at", "raw",
               "reference", "donor_name", "fee_minor", "refunded_minor", "meta", "outcome",
               "city_id", "day", "occurred_utc")

    def __enter__(self) -> "Staging":
        self.dir = tempfile.mkdtemp(prefix="twestival-import-")
        self.path = os.path.join(self.dir, "staging.db")
        self.db = sqlite3.connect(self.path)
        # Scratch data: a crash loses nothing that is not in the archived file.
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(f"CREATE TABLE item (seq INTEGER PRIMARY KEY, {', '.join(self.COLUMNS)})")
        self.currency_days: set[tuple[str, dt.date]] = set()
        self.count = 0
        return self

    def __exit__(self, *exc) -> None:
        self.db.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def fill(self, items: Iterator[Item], classify: Callable[[Item], tuple[str, int | None]],
             progress: Callable[[int], None] | None) -> None:
        """Parse the whole file into the staging table (MalformedFile on any bad row), each
        row with the stream's word for it and its city (``classify``)."""
        insert = (f"INSERT INTO item ({', '.join(self.COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(self.COLUMNS))})")
        batch: list[tuple] = []
        days = self.currency_days
        times: dict[dt.datetime, tuple] = {}   # times repeat (an order's rows, a day's lines)
        reported = 0
        for item in items:
            occurred = item.occurred_at
            texts = times.get(occurred)
            if texts is None:
                if len(times) > 10_000:
                    times.clear()
                day = occurred.date()   # the local day: the day of the rates, as ``record``
                # The UTC text is how SQLAlchemy stores a UTCDateTime on SQLite (``direct``).
                texts = times[occurred] = (
                    occurred.isoformat(), day.isoformat(), day,
                    occurred.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f"))
            iso, day_text, day, utc = texts
            days.add((item.amount.currency, day))
            outcome, city_id = classify(item)
            batch.append((item.line, item.external_id, item.amount.minor, item.amount.currency,
                          iso, item.raw, item.reference, item.donor_name,
                          item.fee_minor, item.refunded_minor,
                          None if item.meta is None else json.dumps(item.meta), outcome,
                          city_id, day_text, utc))
            if len(batch) >= STAGE_BATCH:
                self.db.executemany(insert, batch)
                self.count += len(batch)
                batch = []
                if progress and item.line > reported:
                    progress(item.line - reported)
                    reported = item.line
        if batch:
            self.db.executemany(insert, batch)
            self.count += len(batch)
        self.db.commit()
        self.lines = max(reported, self.db.execute("SELECT max(line) FROM item").fetchone()[0]
                         or 0)
        if progress and self.lines > reported:
            progress(self.lines - reported)

    def items_for_rows(self, rows: int) -> int:
        """How many staged items cover about ``rows`` lines of the file."""
        if self.count == 0 or self.lines <= self.count:
            return rows
        return max(1, rows * self.count // self.lines)

    def check_repeats(self, ctx: Context) -> None:
        """Where a parser's ids must be unique in a file, a repeat refuses it (the ids are
        checked by an index here rather than a set of every id in memory)."""
        if ctx.repeat_error is None or self.count == 0:
            return
        self.db.execute("CREATE INDEX IF NOT EXISTS item_external_id ON item (external_id)")
        repeats = self.db.execute(
            "SELECT line, external_id FROM item WHERE seq NOT IN "
            "(SELECT min(seq) FROM item GROUP BY external_id) ORDER BY line").fetchall()
        if repeats:
            raise MalformedFile(N_("the file was refused, nothing was recorded"),
                                [at_line(line, ctx.repeat_error(external_id))
                                 for line, external_id in repeats])

    def ranges(self, session: Session, size: int,
               progress: Callable[[int], None] | None) -> Iterator[tuple[int, int]]:
        """The staged rows' positions (first, last) in file order, ``size`` at a time; asking
        for the next range commits the one before (which the caller has recorded by then).
        The boards are told once, after the last chunk: the changes each chunk notes are held
        back till then."""
        reported = 0
        changed: set = set()
        turns = writelock.Turns.of(session.get_bind())
        for first in range(1, self.count + 1, size):
            last = min(first + size - 1, self.count)
            yield first, last
            changed |= session.info.pop(CHANGES_KEY, set())
            session.commit()
            turns.after_commit()   # a webhook waiting for the lock gets it before the next chunk
            if progress:
                line = max(self.db.execute("SELECT line FROM item WHERE seq = ?",
                                           (last,)).fetchone()[0], reported)
                progress(line - reported)
                reported = line
        session.info.setdefault(CHANGES_KEY, set()).update(changed)
        if progress and self.lines > reported:
            progress(self.lines - reported)

    def items(self, first: int, last: int, outcomes: Iterable[str] | None = None) -> list[Item]:
        """The staged rows from ``first`` to ``last`` (only those with one of ``outcomes``)."""
        sql = f"SELECT {', '.join(self.COLUMNS[:13])} FROM item WHERE seq BETWEEN ? AND ?"
        params: list = [first, last]
        if outcomes is not None:
            outcomes = list(outcomes)
            sql += f" AND outcome IN ({', '.join('?' * len(outcomes))})"
            params += outcomes
        return [Item(line=line, external_id=external_id, amount=Money(minor, currency),
                     occurred_at=dt.datetime.fromisoformat(occurred), raw=raw,
                     reference=reference, donor_name=donor, fee_minor=fee,
                     refunded_minor=refunded, meta=None if meta is None else json.loads(meta),
                     outcome=outcome, city_id=city_id)
                for (line, external_id, minor, currency, occurred, raw, reference, donor,
                     fee, refunded, meta, outcome, city_id)
                in self.db.execute(sql + " ORDER BY seq", params)]

    def chunks(self, session: Session, size: int,
               progress: Callable[[int], None] | None) -> Iterator[list[Item]]:
        """The staged items in file order, ``size`` at a time (committed as ``ranges``)."""
        for first, last in self.ranges(session, size, progress):
            yield self.items(first, last)
