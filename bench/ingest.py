"""Benchmark 1, ingest: signed Stripe-style webhook events through the whole HTTP path, served as
production is served (gunicorn, gevent worker), against the raw SQLite ceiling on the same
schema and durability settings (WAL, synchronous=NORMAL), measured in the same run."""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import sqlite3
import time
import uuid
from pathlib import Path

from . import common, profile


def sqlite_ceiling(workdir: Path, seconds: float) -> dict:
    """One ledger entry plus one running-total upsert per transaction, nothing else."""
    path = workdir / "ceiling.db"
    common.prepare_database(f"sqlite:///{path}")
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    campaign_id, city_id = conn.execute("SELECT campaign_id, id FROM city LIMIT 1").fetchone()
    insert = ("INSERT INTO ledger_entry (campaign_id, city_id, stream, external_id, kind, "
              "amount_minor, currency, city_minor, reporting_minor, reporting_currency, fx_rate, "
              "fx_date, occurred_at, recorded_at, anonymous, provisional) VALUES "
              "(?, ?, 'stripe', ?, 'donation', 1000, 'GBP', 1000, 1000, 'GBP', '1', ?, ?, ?, 0, 0)")
    upsert = ("INSERT INTO city_total (city_id, campaign_id, raised_minor, raised_reporting_minor,"
              " provisional_minor, provisional_reporting_minor, donations, updated_at) "
              "VALUES (?, ?, 1000, 1000, 0, 0, 1, ?) ON CONFLICT (city_id) DO UPDATE SET "
              "raised_minor = raised_minor + 1000, raised_reporting_minor = "
              "raised_reporting_minor + 1000, donations = donations + 1, updated_at = ?")
    today = dt.date.today().isoformat()
    latencies, count = [], 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    while (now := time.perf_counter()) < deadline:
        stamp = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(" ")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(insert, (campaign_id, city_id, f"evt_{uuid.uuid4().hex}", today, stamp, stamp))
        conn.execute(upsert, (city_id, campaign_id, stamp, stamp))
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - now)
        count += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return {"transactions_per_s": count / elapsed, "p50_ms": common.percentile(latencies, 50) * 1e3,
            "p99_ms": common.percentile(latencies, 99) * 1e3, "transactions": count}


async def _drive(targets: list[dict], seconds: float, concurrency: int, warmup: float) -> dict:
    import aiohttp
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = itertools.count()
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(w: int) -> None:
            target = targets[w % len(targets)]
            while (now := time.perf_counter()) < stop_at:
                n = next(counter)
                city = common.CITIES[n % len(common.CITIES)][0]
                if target["mode"] == "stripe":
                    body = common.stripe_event(n, city)
                    url = target["base"] + "/webhooks/stripe"
                    headers = {"Content-Type": "application/json",
                               "Stripe-Signature": common.stripe_signature(body)}
                else:
                    body = json.dumps({"amount": f"{10 + n % 50}.00", "currency": "GBP",
                                       "donor_name": f"Donor {n}"}).encode()
                    url = f"{target['base']}/api/v1/campaigns/{common.CAMPAIGN}/cities/{city}/donations"
                    headers = {"Content-Type": "application/json",
                               "Authorization": f"Bearer {target['token']}",
                               "Idempotency-Key": uuid.uuid4().hex}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    done = time.perf_counter()
                if now >= measure_from:
                    latencies.append(done - now)
                    statuses[response.status] = statuses.get(response.status, 0) + 1
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    ok = sum(c for s, c in statuses.items() if 200 <= s < 300)
    return {"events_per_s": ok / seconds, "p50_ms": common.percentile(latencies, 50) * 1e3,
            "p99_ms": common.percentile(latencies, 99) * 1e3, "statuses": statuses,
            "acknowledged": ok}


def http_ingest(apps: list, token: str, seconds: float, concurrency: int = 16,
                warmup: float = 3.0, profile_to: Path | None = None) -> dict:
    """Closed loop: ``concurrency`` connections each post the next event when acknowledged.
    Several apps: connections are spread over them (as a load balancer would)."""
    import psutil
    mode = "stripe" if common.webhook_available(apps[0].base) else "api"
    targets = [{"base": a.base, "token": token, "mode": mode} for a in apps]
    workers = [psutil.Process(a.worker_pid()) for a in apps]
    cpu_before = [w.cpu_times() for w in workers]
    if profile_to is not None:
        profile.record_later(workers[0].pid, warmup + seconds / 3, min(15, seconds / 3), profile_to)
    result = asyncio.run(_drive(targets, seconds, concurrency, warmup))
    cpu = sum((w.cpu_times().user + w.cpu_times().system) - (b.user + b.system)
              for w, b in zip(workers, cpu_before))
    result.update(path="POST /webhooks/stripe (signed checkout.session.completed)"
                  if mode == "stripe" else
                  "POST /api/v1/campaigns/<c>/cities/<city>/donations (FALLBACK: no Stripe "
                  "webhook view on this branch)",
                  mode=mode, server_cpu_s_per_event=cpu / max(1, result["acknowledged"]),
                  concurrency=concurrency, seconds=seconds, processes=len(apps))
    return result


def run(workdir: Path, seconds: float) -> dict:
    ceiling = sqlite_ceiling(workdir, min(seconds, 20))
    url = f"sqlite:///{workdir / 'ingest.db'}"
    token = common.tokens(common.prepare_database(url))[0][1]
    app = common.App(common.app_env(url), workdir / "ingest-app.log")
    try:
        http = http_ingest([app], token, seconds, profile_to=workdir / "ingest.pyspy")
    finally:
        app.stop()
    http["ratio_to_sqlite_ceiling"] = http["events_per_s"] / ceiling["transactions_per_s"]
    return {"sqlite_ceiling": ceiling, "http": http,
            "profile": profile.summary(workdir / "ingest.pyspy")}


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.seconds), indent=2))
