"""Benchmark 4, import: the real ``twestival import`` on a generated 1,000,000-row Eventbrite
orders export and on a generated 1,000,000-line bank statement (CSV through a saved ``bank``
mapping), each in its own process, while a served app takes signed Stripe webhooks at a few per
second. Reported per file: wall seconds, rows/s, peak RSS of the import process (with any
children), and webhook p99 during the import against a quiet period measured in the same run.
Baseline in the same run: the same number of ledger rows inserted by raw SQLite executemany.

Why a CSV bank statement and not CAMT.053: the CSV reader streams (the file is read line by
line), while CAMT.053 is parsed as one XML document (defusedxml ``fromstring``, capped at
200 MB); a million CAMT entries is about 1 GB of XML.
"""
from __future__ import annotations

import csv
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from . import common, profile

CLI = [sys.executable, "-c", "from twestival.cli import main; main()"]
# The import runs with its write transactions timed (``probe_main``): how long each held
# SQLite's one write lock, the longest a webhook can wait for it.
PROBED_CLI = [sys.executable, "-c", "from bench.imports import probe_main; probe_main()"]
LOCKS_ENV = "TWESTIVAL_BENCH_LOCKS"
EVENTBRITE_HEADER = ["Order #", "Order Date", "First Name", "Last Name", "Email", "Quantity",
                     "Price Tier", "Ticket Type", "Attendee #", "Group", "Order Type", "Currency",
                     "Total Paid", "Fees Paid", "Eventbrite Fees",
                     "Eventbrite Payment Processing", "Attendee Status"]
BANK_HEADER = ["Booking Date", "Amount", "Currency", "Reference", "Counterparty",
               "Transaction ID"]
BANK_REFERENCES = {city: f"TW-{n:04d}" for n, (city, *_rest) in enumerate(common.CITIES, 1)}
WEBHOOKS_PER_SECOND = 5


def generate_eventbrite(path: Path, rows: int) -> None:
    """Attendee rows as Eventbrite writes them (the shape of tests/fixtures/ticketing/
    eventbrite/paid_orders.csv): orders of one to three attendees, a few refunded."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(EVENTBRITE_HEADER)
        order, n = 100_000_000, 0
        while n < rows:
            order += 1
            size = min(1 + order % 3, rows - n)
            when = f"02/{1 + order % 12:02d}/27 {order % 24:02d}:{order % 60:02d}"
            for a in range(size):
                n += 1
                out.writerow([order, when, f"First{n}", f"Last{n}", f"a{n}@example.org", 1, "",
                              "General Admission", 900_000_000 + n, "", "Eventbrite Completed",
                              "GBP", f"{10 + n % 40}.00", "1.99", "1.49", "0.73",
                              "Refunded" if n % 97 == 0 else "Attending"])


def generate_bank(path: Path, rows: int) -> None:
    """A bank's CSV statement: credits naming a city's reference, some naming none, debits,
    a Stripe payout now and then; each line with the bank's own transaction id."""
    refs = list(BANK_REFERENCES.values())
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(BANK_HEADER)
        for n in range(rows):
            if n % 50 == 0:
                amount, text = f"-{5 + n % 90}.00", "Venue hire"
            elif n % 97 == 0:
                amount, text = f"{100 + n % 900}.00", f"STRIPE PAYOUT po_{n:012d}"
            elif n % 20 == 0:
                amount, text = f"{5 + n % 95}.50", f"Donation {n}"
            else:
                amount, text = f"{5 + n % 95}.50", f"Twestival {refs[n % len(refs)]} gift {n}"
            out.writerow([f"2027-02-{1 + n % 28:02d}", amount, "GBP", text, f"Payer {n}",
                          f"TX{n:010d}"])


def sqlite_baseline(url: str, rows: int) -> dict:
    """The same number of ledger rows, inserted by executemany in 5,000-row transactions into
    the same schema with the app's settings (WAL, synchronous=NORMAL): the database's floor."""
    path = url.removeprefix("sqlite:///")
    conn, campaign_id, city_id = common.raw_sqlite(path)
    insert = (f"INSERT INTO ledger_entry ({common.LEDGER_COLUMNS}) VALUES "
              "(?, ?, 'baseline', ?, 'donation', ?, 'GBP', ?, ?, 'GBP', '1', '2027-02-12', "
              "'2027-02-12 20:00:00.000000', '2027-02-12 20:00:00.000000', 1, 0) "
              "ON CONFLICT DO NOTHING")
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, rows, 5000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert, ((campaign_id, city_id, f"b{n}", 1000 + n % 5000,
                                   1000 + n % 5000, 1000 + n % 5000)
                                  for n in range(start, min(rows, start + 5000))))
        conn.execute("COMMIT")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    conn.close()
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed, "cpu_seconds": cpu}


def probe_main() -> None:
    """``twestival`` with every write transaction timed, from BEGIN IMMEDIATE to its end;
    the durations go to the file named by $TWESTIVAL_BENCH_LOCKS at exit."""
    import atexit
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from twestival.storage import database
    from twestival.cli import main
    import traceback
    # (wall, CPU of the import, where it began) per write transaction
    held: list[tuple[float, float, str]] = []
    began: dict[int, tuple[float, float, str]] = {}

    def begin(conn):
        if not database._read_only.get():
            # The innermost calls of ours, so the longest transactions say what they were
            # (taken before the clock starts; empty when the ORM's flush began it deep down).
            ours = [f"{frame.name}:{frame.lineno}" for frame in traceback.extract_stack(limit=30)
                    if "/twestival/" in frame.filename and "database.py" not in frame.filename]
            began[id(conn)] = (time.perf_counter(), time.thread_time(), "<".join(ours[:-4:-1]))

    def end(conn):
        start = began.pop(id(conn), None)
        if start is not None:
            held.append((time.perf_counter() - start[0], time.thread_time() - start[1],
                         start[2]))

    event.listen(Engine, "begin", begin)
    event.listen(Engine, "commit", end)
    event.listen(Engine, "rollback", end)
    atexit.register(lambda: Path(os.environ[LOCKS_ENV]).write_text(json.dumps(held)))
    main()


def _cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), env={**os.environ, **env}, cwd=common.ROOT,
                          capture_output=True, text=True)


def _set_up_bank(url: str, env: dict) -> None:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    with conn:
        for city, ref in BANK_REFERENCES.items():
            conn.execute("UPDATE city SET bank_reference = ? WHERE slug = ?", (ref, city))
    conn.close()
    out = _cli(env, "mapping", "save", common.CAMPAIGN, "bankcsv", "--kind", "bank",
               "--date", "Booking Date", "--amount", "Amount", "--currency", "Currency",
               "--reference", "Reference", "--donor", "Counterparty",
               "--external-id", "Transaction ID")
    if out.returncode:
        raise RuntimeError(out.stderr)


class Webhooks:
    """Signed Stripe checkout events posted at a steady rate (open loop) in a thread; each
    acknowledgement time is kept with the moment it was sent."""

    def __init__(self, base: str, rate: float = WEBHOOKS_PER_SECOND):
        self.base, self.interval = base, 1.0 / rate
        self.samples: list[tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _post(self, n: int) -> None:
        body = common.stripe_event(n, common.CITIES[n % len(common.CITIES)][0])
        request = urllib.request.Request(
            self.base + "/webhooks/stripe", data=body, method="POST",
            headers={"Content-Type": "application/json",
                     "Stripe-Signature": common.stripe_signature(body)})
        sent = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except OSError:
            status = 0
        self.samples.append((sent, time.perf_counter() - sent, status))

    def _run(self) -> None:
        n, next_at = 0, time.perf_counter()
        while not self._stop.is_set():
            thread = threading.Thread(target=self._post, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
            n += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.perf_counter()))

    def __enter__(self):
        self._runner = threading.Thread(target=self._run, daemon=True)
        self._runner.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._runner.join()
        for thread in self._threads:
            thread.join(timeout=60)

    def window(self, start: float, end: float) -> dict:
        chosen = [(lat, status) for sent, lat, status in self.samples if start <= sent < end]
        latencies = [lat for lat, _ in chosen]
        statuses: dict[int, int] = {}
        for _, status in chosen:
            statuses[status] = statuses.get(status, 0) + 1
        return {"webhooks": len(chosen), "p50_ms": common.percentile(latencies, 50) * 1e3,
                "p99_ms": common.percentile(latencies, 99) * 1e3,
                "max_ms": max(latencies, default=float("nan")) * 1e3, "statuses": statuses}


def _peak_rss(pid: int, peak: list[int], done: threading.Event) -> None:
    import psutil
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not done.is_set():
        try:
            procs = [root] + root.children(recursive=True)
            peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs))
        except psutil.NoSuchProcess:
            break
        done.wait(0.05)


def import_once(env: dict, path: Path, args: list[str], rows: int,
                profile_to: Path | None = None) -> dict:
    """One ``twestival import`` in its own process: seconds, rows/s, peak RSS, its output, and
    its CPU seconds (robust to a shared machine, where wall time is not)."""
    import resource
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    locks = path.with_suffix(".locks.json")
    started = time.perf_counter()
    proc = subprocess.Popen(PROBED_CLI + ["import", common.CAMPAIGN, str(path), *args],
                            env={**os.environ, **env, LOCKS_ENV: str(locks)}, cwd=common.ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = [0], threading.Event()
    watcher = threading.Thread(target=_peak_rss, args=(proc.pid, peak, done), daemon=True)
    watcher.start()
    if profile_to is not None:
        profile.record_later(proc.pid, 2.0, 600, profile_to)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    held = json.loads(locks.read_text()) if locks.exists() else []

    def spread(values):
        return {"p50": common.percentile(values, 50) * 1e3,
                "p99": common.percentile(values, 99) * 1e3,
                "max": max(values, default=float("nan")) * 1e3}
    # Wall time is what a waiting webhook sees; the CPU the import spent inside the
    # transaction is the same figure without the other jobs of a shared machine.
    return {"write_transactions": len(held),
            "write_lock_held_ms": spread([wall for wall, _cpu, _where in held]),
            "write_lock_cpu_ms": spread([cpu for _wall, cpu, _where in held]),
            "longest_write_transactions_ms": [
                (round(wall * 1e3, 1), round(cpu * 1e3, 1), where)
                for wall, cpu, where in sorted(held, reverse=True)[:5]],
            "rows": rows, "exit_status": proc.returncode, "seconds": elapsed,
            "rows_per_s": rows / elapsed, "peak_rss_mb": peak[0] / 2**20,
            "cpu_seconds": cpu, "rows_per_cpu_s": rows / cpu if cpu else None,
            "report": out.strip().splitlines()[-8:], "stderr": err.strip()[-300:],
            "started": started, "ended": started + elapsed}


def run(workdir: Path, rows: int = 1_000_000, quiet_seconds: float = 30,
        profile_imports: bool = False) -> dict:
    url = f"sqlite:///{workdir / 'import.db'}"
    common.prepare_database(url)
    env = common.app_env(url)
    _set_up_bank(url, env)
    files = {"eventbrite": workdir / "eventbrite.csv", "bank_csv": workdir / "bank.csv"}
    generate_eventbrite(files["eventbrite"], rows)
    generate_bank(files["bank_csv"], rows)
    baseline_url = f"sqlite:///{workdir / 'import-baseline.db'}"
    common.prepare_database(baseline_url)
    baseline = sqlite_baseline(baseline_url, rows)
    jobs = {"eventbrite": ["--format", "eventbrite", "--city", "london"],
            "bank_csv": ["--format", "csv", "--mapping", "bankcsv"]}
    results: dict = {"sqlite_executemany_baseline": baseline,
                     "webhooks_per_s": WEBHOOKS_PER_SECOND}
    app = common.App(env, workdir / "import-app.log")
    try:
        with Webhooks(app.base) as hooks:
            time.sleep(2)  # warm-up
            quiet_from = time.perf_counter()
            time.sleep(quiet_seconds)
            quiet = hooks.window(quiet_from, time.perf_counter())
            for name, args in jobs.items():
                spy = workdir / f"import-{name}.pyspy" if profile_imports else None
                result = import_once(env, files[name], args, rows, spy)
                result["webhooks_during"] = hooks.window(result.pop("started"),
                                                         result.pop("ended"))
                result["webhooks_quiet"] = quiet
                result["p99_ratio"] = result["webhooks_during"]["p99_ms"] / quiet["p99_ms"]
                result["vs_baseline"] = result["seconds"] / baseline["seconds"]
                if spy is not None:
                    result["profile"] = profile.summary(spy)
                results[name] = result
                time.sleep(1)
    finally:
        app.stop()
    return results


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quiet-seconds", type=float, default=30)
    parser.add_argument("--profile", action="store_true", help="py-spy each import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twestival-bench-import.") as tmp:
        print(json.dumps(run(Path(tmp), args.rows, args.quiet_seconds, args.profile), indent=1,
                         default=str))
