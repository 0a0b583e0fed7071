"""Benchmark 3, leaderboard cost against ledger size: the real leaderboard read (running totals)
against a SUM over the ledger, measured on the same database at 10^4, 10^6 and 10^7 entries.
Entries are bulk-inserted straight into SQLite (the schema from the real migrations)."""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

from sqlalchemy import func, select

from . import common

SUM_SQL = ("SELECT city_id, SUM(reporting_minor), COUNT(*) FROM ledger_entry "
           "WHERE campaign_id = :c GROUP BY city_id")


def grow(path: Path, upto: int, have: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")     # generating only: the measured reads use WAL
    conn.execute("PRAGMA synchronous=OFF")
    campaign_id = conn.execute("SELECT id FROM campaign").fetchone()[0]
    cities = [r[0] for r in conn.execute("SELECT id FROM city ORDER BY id")]
    stamp = dt.datetime(2027, 2, 12, 20, 0).isoformat(" ")
    day = "2027-02-12"
    sql = ("INSERT INTO ledger_entry (campaign_id, city_id, stream, external_id, kind, "
           "amount_minor, currency, city_minor, reporting_minor, reporting_currency, fx_rate, "
           "fx_date, occurred_at, recorded_at, anonymous, provisional) VALUES "
           "(?, ?, 'bulk', ?, 'donation', ?, 'GBP', ?, ?, 'GBP', '1', ?, ?, ?, 0, 0)")
    batch = 100_000
    for start in range(have, upto, batch):
        rows = [(campaign_id, cities[n % len(cities)], f"b{n}", 1000 + n % 997, 1000 + n % 997,
                 1000 + n % 997, day, stamp, stamp) for n in range(start, min(upto, start + batch))]
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    # Running totals as the ledger would have kept them.
    conn.execute("BEGIN")
    for city_id, raised, count in conn.execute(
            "SELECT city_id, SUM(reporting_minor), COUNT(*) FROM ledger_entry GROUP BY city_id"
    ).fetchall():
        conn.execute("UPDATE city_total SET raised_minor = ?, raised_reporting_minor = ?, "
                     "donations = ? WHERE city_id = ?", (raised, raised, count, city_id))
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def measure(url: str) -> dict:
    from sqlalchemy import text
    from twestival import create_app
    from twestival.campaigns.service import get_campaign
    from twestival.storage.database import read_only
    from twestival.extensions import db
    from twestival.live.board import snapshot
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context(), read_only():
        campaign = get_campaign(db.session, common.CAMPAIGN)
        entries = db.session.scalar(select(func.count()).select_from(text("ledger_entry")))

        def board():
            snapshot(db.session, campaign)
            db.session.rollback()

        def ledger_sum():
            db.session.execute(text(SUM_SQL), {"c": campaign.id}).all()
            db.session.rollback()

        boards = timed(board, 500)
        sums = timed(ledger_sum, 200 if entries <= 10**4 else 20 if entries <= 10**6 else 5)
        db.engine.dispose()
    app.extensions["twestival.live"].stop()
    return {"entries": entries,
            "leaderboard_p50_ms": common.percentile(boards, 50) * 1e3,
            "leaderboard_p99_ms": common.percentile(boards, 99) * 1e3,
            "sum_p50_ms": common.percentile(sums, 50) * 1e3,
            "sum_p99_ms": common.percentile(sums, 99) * 1e3}


def run(workdir: Path, max_entries: int = 10**7) -> dict:
    path = workdir / "leaderboard.db"
    url = f"sqlite:///{path}"
    common.prepare_database(url)
    results, have = [], 0
    for size in (10**4, 10**6, 10**7):
        if size > max_entries:
            break
        started = time.perf_counter()
        grow(path, size, have)
        have = size
        row = measure(url)
        row["generate_seconds"] = time.perf_counter() - started
        row["file_mb"] = path.stat().st_size / 2**20
        results.append(row)
        print(json.dumps(row), flush=True)
    base = results[0]["leaderboard_p99_ms"]
    for row in results:
        row["p99_vs_smallest"] = row["leaderboard_p99_ms"] / base
        row["sum_p50_vs_leaderboard_p50"] = row["sum_p50_ms"] / row["leaderboard_p50_ms"]
    return {"sizes": results}


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-entries", type=int, default=10**7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.max_entries), indent=2))
