"""Benchmark 5, scale-out: benchmarks 1 and 2 with two app processes + Redis + PostgreSQL (the
baseline, one process on SQLite, is measured by benchmarks 1 and 2 in the same run)."""
from __future__ import annotations

import json
from pathlib import Path

from . import common, ingest, screen


def run(workdir: Path, ingest_seconds: float, screen_sizes, screen_seconds: float) -> dict:
    postgres, redis = common.Postgres(), common.Redis()
    results: dict = {}
    try:
        def start(url: str, tag: str) -> list:
            env = common.app_env(url, redis.url)
            return [common.App({**env, "TWESTIVAL_SCHEDULER": "on"}, workdir / f"{tag}-1.log"),
                    common.App({**env, "TWESTIVAL_SCHEDULER": "off"}, workdir / f"{tag}-2.log")]

        url = postgres.create()
        token = common.tokens(common.prepare_database(url))[0][1]
        apps = start(url, "scale-ingest")
        try:
            # The night's first gifts, then the statistics autovacuum keeps (it analyzes a
            # table once a tenth of it changed, within a minute): measured on an empty
            # database's statistics, PostgreSQL plans the key lookups of a growing ledger as
            # scans of a "tiny" table and reports the night's first minute, not the night.
            ingest.http_ingest(apps, token, 5, warmup=1)
            postgres.analyze(url)
            before = postgres.cpu_seconds()
            results["ingest"] = ingest.http_ingest(apps, token, ingest_seconds)
            # PostgreSQL's own CPU, on the same cores (SQLite's is inside the app's).
            results["ingest"]["database_cpu_s_per_event"] = (
                (postgres.cpu_seconds() - before) / max(1, results["ingest"]["acknowledged"]))
        finally:
            for app in apps:
                app.stop()
        results["screen"] = {}
        # The largest size again with lean watchers (bench.screen's lean rows, same key).
        runs = [(size, False) for size in screen_sizes] + [(max(screen_sizes), True)]
        for size, lean in runs:
            url = postgres.create()
            tokens = common.tokens(common.prepare_database(url, campaigns=screen.CAMPAIGNS))
            apps = start(url, f"scale-screen-{size}" + ("-lean" if lean else ""))
            try:
                results["screen"][f"{size} lean" if lean else str(size)] = screen.run_one(
                    apps, tokens, size, 50, screen_seconds, lean=lean)
            finally:
                for app in apps:
                    app.stop()
    finally:
        redis.stop()
        postgres.stop()
    return results


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), 10, [200], 10), indent=2))
