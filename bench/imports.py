"""Benchmark 4, import: a generated 1,000,000-row CSV through ``twestival import ... --format
csv``; wall time, peak memory of the command, and webhook p99 during the import against
without it. Runs only where the import command exists (it is built on another branch)."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import common, ingest

CLI = [sys.executable, "-c", "from twestival.cli import main; main()"]


def command_exists(env: dict) -> bool:
    out = subprocess.run(CLI + ["--help"], env={**os.environ, **env}, cwd=common.ROOT,
                         capture_output=True, text=True)
    return any(line.split()[:1] == ["import"] for line in out.stdout.splitlines())


def generate(path: Path, rows: int) -> None:
    """Columns as a ticketing/CSV export would carry them (date, amount, currency, donor,
    city, reference); adjust to the import format's documented header if it differs."""
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["date", "amount", "currency", "donor_name", "city", "reference"])
        for n in range(rows):
            out.writerow(["2027-02-12", f"{5 + n % 95}.00", "GBP", f"Donor {n}",
                          common.CITIES[n % len(common.CITIES)][0], f"row-{n}"])


def run(workdir: Path, rows: int = 1_000_000, probe_seconds: float = 20) -> dict:
    url = f"sqlite:///{workdir / 'import.db'}"
    token = common.tokens(common.prepare_database(url))[0][1]
    env = common.app_env(url)
    if not command_exists(env):
        return {"status": "not run: `twestival import` does not exist on this branch yet "
                          "(the imports helper builds it); rerun ./scripts/bench after merging"}
    path = workdir / "donations.csv"
    generate(path, rows)
    app = common.App(env, workdir / "import-app.log")
    try:
        quiet = ingest.http_ingest([app], token, probe_seconds, concurrency=4)
        import psutil
        started = time.perf_counter()
        proc = subprocess.Popen(CLI + ["import", common.CAMPAIGN, str(path), "--format", "csv"],
                                env={**os.environ, **env}, cwd=common.ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak = [0]

        def watch():
            handle = psutil.Process(proc.pid)
            while proc.poll() is None:
                try:
                    peak[0] = max(peak[0], handle.memory_info().rss)
                except psutil.NoSuchProcess:
                    break
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        busy = ingest.http_ingest([app], token, probe_seconds, concurrency=4, warmup=1)
        out, err = proc.communicate()
        elapsed = time.perf_counter() - started
    finally:
        app.stop()
    return {"rows": rows, "exit_status": proc.returncode, "stderr": err.strip()[-300:],
            "seconds": elapsed, "rows_per_s": rows / elapsed, "peak_rss_mb": peak[0] / 2**20,
            "webhook_p99_ms_quiet": quiet["p99_ms"], "webhook_p99_ms_during_import": busy["p99_ms"],
            "p99_ratio": busy["p99_ms"] / quiet["p99_ms"]}
