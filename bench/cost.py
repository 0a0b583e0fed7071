"""What one request costs the app itself, without HTTP or load-generator noise: CPU time of the
request thread and SQL statements per request, through Flask's test client on a SQLite file
prepared as the benchmarks prepare theirs. Robust to a shared machine (CPU time, not wall time).

    python -m bench.cost [--requests 400] [--show-statements]
"""
from __future__ import annotations

import collections
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from . import common

ROUND = 50


def _requests(kind: str, token: str):
    """An endless supply of (url, body, headers) for one path, each event new."""
    n = 0
    while True:
        n += 1
        city = common.CITIES[n % len(common.CITIES)][0]
        if kind == "stripe":
            body = common.stripe_event(n, city)
            yield "/webhooks/stripe", body, {"Stripe-Signature": common.stripe_signature(body)}
        else:
            body = json.dumps({"amount": f"{10 + n % 50}.00", "currency": "GBP",
                               "donor_name": f"Donor {n}"}).encode()
            yield (f"/api/v1/campaigns/{common.CAMPAIGN}/cities/{city}/donations", body,
                   {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})


def measure(workdir: Path, requests: int = 400, warmup: int = 50,
            show_statements: bool = False) -> dict:
    from sqlalchemy import event

    from twestival import create_app
    from twestival.extensions import db

    url = f"sqlite:///{workdir / 'cost.db'}"
    token = common.tokens(common.prepare_database(url))[0][1]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                      "STRIPE_WEBHOOK_SECRET": common.STRIPE_SECRET,
                      "STRIPE_SECRET_KEY": "sk_test_benchmark_only"})
    main = threading.get_ident()
    counting = {"on": False, "n": 0, "texts": collections.Counter()}
    examples: dict[str, tuple[str, object]] = {}

    def count(conn, cursor, statement, parameters, context, executemany):
        # Only the request's own statements are counted (the live publisher pushes from its
        # own thread), but every statement's plan is checked: a push runs several times a second.
        if counting["on"]:
            text = " ".join(statement.split())[:110]
            # The widest example: SQLite may plan an IN list of 16 unlike one of 1.
            if text not in examples or _width(parameters) > _width(examples[text][1]):
                examples[text] = (statement, parameters)
            if threading.get_ident() == main:
                counting["n"] += 1
                counting["texts"][text] += 1

    # How long each request holds SQLite's write lock (BEGIN IMMEDIATE to COMMIT): one writer
    # at a time, whatever the number of processes, so 1 / this bounds events per second.
    held = {"since": None, "total": 0.0}

    def began(conn):
        if threading.get_ident() == main:  # POSTs only here: every transaction is a writer
            held["since"] = time.perf_counter()

    def ended(conn):
        if threading.get_ident() == main and held["since"] is not None:
            held["total"] += time.perf_counter() - held["since"]
            held["since"] = None

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        event.listen(db.engine, "begin", began)
        event.listen(db.engine, "commit", ended)
        event.listen(db.engine, "rollback", ended)
    client = app.test_client()
    results = {}
    try:
        for kind in ("stripe", "api"):
            supply = _requests(kind, token)
            statuses = collections.Counter()
            for _ in range(warmup):
                url_, body, headers = next(supply)
                client.post(url_, data=body, content_type="application/json", headers=headers)
            counting.update(on=True, n=0, texts=collections.Counter())
            # Rounds, and the cheapest round counts: on a shared machine, time stolen by other
            # processes only ever adds to a round's CPU time.
            rounds, wall, locks = [], 0.0, []
            for _ in range(max(1, requests // ROUND)):
                cpu = 0.0
                held["total"] = 0.0
                for _ in range(ROUND):
                    url_, body, headers = next(supply)
                    c0, w0 = time.thread_time(), time.perf_counter()
                    response = client.post(url_, data=body, content_type="application/json",
                                           headers=headers)
                    cpu += time.thread_time() - c0
                    wall += time.perf_counter() - w0
                    statuses[response.status_code] += 1
                rounds.append(cpu / ROUND)
                locks.append(held["total"] / ROUND)
            counting["on"] = False
            done = len(rounds) * ROUND
            results[kind] = {"cpu_ms_per_request": min(rounds) * 1e3,
                             "cpu_ms_per_request_median": statistics.median(rounds) * 1e3,
                             "wall_ms_per_request": wall / done * 1e3,
                             "write_lock_ms_per_request": min(locks) * 1e3,
                             "statements_per_request": counting["n"] / done,
                             "statuses": dict(statuses)}
            if show_statements:
                results[kind]["statements"] = {text: n / done for text, n
                                               in counting["texts"].most_common()}
        results["stripe_grouped"] = _grouped(app, counting, requests)
    finally:
        app.extensions["twestival.live"].stop()
        with app.app_context():
            db.engine.dispose()
    found = plans(workdir / "cost.db", examples)
    results["plans_that_grow"] = {
        text: steps for text, steps in found.items()
        if any(_grows(step) for step in steps) and not _walks_in_order(examples[text][0], steps)}
    if show_statements:
        results["plans"] = found
    return results


# Tables that grow with the night; a search on these by campaign alone reads all of it.
GROWING = ("ledger_entry", "inbound_payload", "ledger_link", "stripe_checkout", "gift_receipt",
           "outbox_message")


def _width(parameters) -> int:
    return len(parameters) if isinstance(parameters, (tuple, list, dict)) else 0


def _walks_in_order(statement: str, steps: list[str]) -> bool:
    """A LIMIT read in an index's own order (no full sort) stops after its first rows."""
    return " LIMIT " in statement.upper() and "USE TEMP B-TREE FOR ORDER BY" not in steps


def _grows(step: str) -> bool:
    """A plan step whose cost grows with the ledger: a full scan, or a search of a growing
    table by its campaign alone."""
    words = step.split()
    if len(words) < 2 or words[0] not in ("SCAN", "SEARCH"):
        return False
    table = words[1]
    if not any(table == name or table.startswith(name + "_") or table in ("e", "l")
               for name in GROWING):
        return False
    return words[0] == "SCAN" or step.endswith("(campaign_id=?)") or step.endswith("(stream=?)")


GROUP = 16


def _grouped(app, counting: dict, requests: int) -> dict:
    """The webhook's write (``GroupInbox._write``: archive, commit, process, commit) for deliveries
    that arrive together, GROUP at a time, as the group commit takes them under load (the
    HTTP path's 16 connections): CPU and statements per delivery, cheapest round."""
    import json as json_

    from twestival.extensions import db
    from twestival.streams.inbox.delivery import delivery as inbox_delivery
    from twestival.streams.stripe import events as stripe
    from twestival.web.webhooks import INBOX
    supply = _requests("stripe", "")

    def group():
        items = []
        for _ in range(GROUP):
            _url, body, headers = next(supply)
            event = json_.loads(body)
            items.append(inbox_delivery(stripe.STREAM, body, headers, "application/json",
                                         event["id"], event))
        return items

    rounds = []
    with app.test_request_context("/webhooks/stripe", method="POST"):
        inbox = app.extensions[INBOX]
        inbox._write(group())   # warm-up
        counting.update(on=True, n=0)
        for _ in range(max(1, requests // ROUND)):
            groups = [group() for _ in range(max(1, ROUND // GROUP))]
            c0 = time.thread_time()
            for items in groups:
                inbox._write(items)
                # As each request ends: a session's caches (session.info) last one group only,
                # so whatever is read once per session is paid again by every group.
                db.session.remove()
            rounds.append((time.thread_time() - c0) / (len(groups) * GROUP))
        counting["on"] = False
        done = len(rounds) * max(1, ROUND // GROUP) * GROUP
    return {"cpu_ms_per_request": min(rounds) * 1e3, "statements_per_request": counting["n"] / done,
            "group": GROUP}


def plans(path: Path, examples: dict) -> dict[str, list[str]]:
    """SQLite's query plan for each statement seen: a SCAN of a big table is a cost that grows
    with the data, which a short run would not show."""
    import sqlite3
    conn = sqlite3.connect(path)
    found = {}
    for text, (statement, parameters) in examples.items():
        if statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "PRAGMA")):
            continue
        try:
            rows = conn.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
        except sqlite3.Error as exc:
            rows = [(0, 0, 0, f"(not explained: {exc})")]
        found[text] = [row[3] for row in rows]
    conn.close()
    return found


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--show-statements", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(Path(tmp), args.requests, show_statements=args.show_statements),
                         indent=2))
