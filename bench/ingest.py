"""Benchmark 1, ingest: signed Stripe ``checkout.session.completed`` events through the whole
HTTP path (POST /webhooks/stripe: verify, archive, dedupe, ledger, totals, push queued), served
as production is served (gunicorn, one gevent worker per process), against two baselines
measured in the same run: the raw SQLite ceiling on the same schema and durability settings
(WAL, synchronous=NORMAL), and the serving stack alone (the same server, Flask, signature check
and load, no database). Also: the app's own CPU and SQL statements per request for the webhook and the JSON
API paths (bench.cost), and the same load on two processes sharing the SQLite file, as the
README's production serving runs several processes behind nginx.

    python -m bench.ingest [--quick] [--seconds 60] [--processes 1,2]
"""
from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
import uuid
from pathlib import Path

from . import common, cost, profile


def sqlite_ceiling(workdir: Path, seconds: float) -> dict:
    """One ledger entry plus one running-total upsert per transaction, nothing else."""
    path = workdir / "ceiling.db"
    common.prepare_database(f"sqlite:///{path}")
    conn, campaign_id, city_id = common.raw_sqlite(path)
    insert = (f"INSERT INTO ledger_entry ({common.LEDGER_COLUMNS}) VALUES "
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


async def _post(reader, writer, host: str, body: bytes) -> int:
    """One keep-alive HTTP/1.1 POST of a signed event; the response's status."""
    writer.write(f"POST /webhooks/stripe HTTP/1.1\r\nHost: {host}\r\n"
                 f"Content-Type: application/json\r\n"
                 f"Stripe-Signature: {common.stripe_signature(body)}\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    head = await reader.readuntil(b"\r\n\r\n")
    at = head.lower().find(b"\r\ncontent-length:")
    if at < 0:
        raise ConnectionError(f"no Content-Length in {head[:200]!r}")
    await reader.readexactly(int(head[at + 17:head.index(b"\r\n", at + 2)]))
    return int(head[9:12])


async def _drive(bases: list[str], seconds: float, concurrency: int, warmup: float) -> dict:
    """A lean client (plain HTTP/1.1 on asyncio streams, ~0.15 ms of CPU a request against
    aiohttp's ~0.3), since it shares the box's two cores with the server."""
    from urllib.parse import urlsplit
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = itertools.count()
    start = time.perf_counter()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    async def worker(w: int) -> None:
        where = urlsplit(bases[w % len(bases)])
        connection = None
        while (now := time.perf_counter()) < stop_at:
            n = next(counter)
            # Each event new (event, session and PaymentIntent ids), signed as Stripe signs.
            body = common.stripe_event(n, common.CITIES[n % len(common.CITIES)][0])
            try:
                if connection is None:
                    connection = await asyncio.open_connection(where.hostname, where.port)
                status = await _post(*connection, where.netloc, body)
            except (OSError, asyncio.IncompleteReadError) as exc:
                status = 0   # counted as a failure; the next request reconnects
                if connection is not None:
                    connection[1].close()
                connection = None
                if not isinstance(exc, (ConnectionError, asyncio.IncompleteReadError)):
                    raise
            done = time.perf_counter()
            if now >= measure_from:
                latencies.append(done - now)
                statuses[status] = statuses.get(status, 0) + 1
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    ok = sum(c for s, c in statuses.items() if 200 <= s < 300)
    return {"events_per_s": ok / seconds, "p50_ms": common.percentile(latencies, 50) * 1e3,
            "p99_ms": common.percentile(latencies, 99) * 1e3, "statuses": statuses,
            "acknowledged": ok}


PATH = "POST /webhooks/stripe (checkout.session.completed, signed as Stripe signs)"


def http_ingest(apps: list, token: str | None = None, seconds: float = 10,
                concurrency: int = 16, warmup: float = 3.0,
                profile_to: Path | None = None) -> dict:
    """Closed loop: ``concurrency`` connections each post the next event when acknowledged.
    Several apps: connections are spread over them (as a load balancer would). ``token`` is
    unused (webhooks are signed, not authorised by token); kept for the callers."""
    import psutil
    workers = [psutil.Process(a.worker_pid()) for a in apps]
    cpu_before = [w.cpu_times() for w in workers]
    if profile_to is not None:
        profile.record_later(workers[0].pid, warmup + seconds / 3, min(15, seconds / 3), profile_to)
    result = asyncio.run(_drive([a.base for a in apps], seconds, concurrency, warmup))
    cpu = sum((w.cpu_times().user + w.cpu_times().system) - (b.user + b.system)
              for w, b in zip(workers, cpu_before))
    # CPU over warm-up + run, per event acknowledged in the run: a slight over-estimate.
    result.update(path=PATH, mode="stripe",
                  server_cpu_s_per_event=cpu / max(1, result["acknowledged"]),
                  concurrency=concurrency, seconds=seconds, processes=len(apps))
    return result


def serve(workdir: Path, url: str, processes: int, tag: str) -> tuple[list, "common.Redis | None"]:
    """``processes`` app processes on one database; with more than one, a private Redis carries
    live pushes between them (TWESTIVAL_REDIS_URL) and only the first runs the scheduler, as
    docs/operations.md says."""
    redis = common.Redis() if processes > 1 else None
    env = common.app_env(url, redis.url if redis else None)
    apps = []
    try:
        for n in range(processes):
            apps.append(common.App({**env, "TWESTIVAL_SCHEDULER": "on" if n == 0 else "off"},
                                   workdir / f"{tag}-{n + 1}.log"))
    except BaseException:
        stop(apps, redis)
        raise
    return apps, redis


def stop(apps: list, redis) -> None:
    for app in apps:
        app.stop()
    if redis is not None:
        redis.stop()


def stack_floor(workdir: Path, seconds: float) -> dict:
    """The same load on the serving stack alone (bench/stack_floor.py: gunicorn, gevent, Flask,
    signature check and JSON parse, no database): the most any app on this stack could do here."""
    app = common.App(common.app_env("sqlite://"), workdir / "stack-floor.log",
                     target="bench.stack_floor:app")
    try:
        return http_ingest([app], seconds=seconds)
    finally:
        app.stop()


def run(workdir: Path, seconds: float, processes: tuple[int, ...] = (1, 2),
        cost_requests: int = 500) -> dict:
    ceiling = sqlite_ceiling(workdir, min(seconds, 20))
    results: dict = {"sqlite_ceiling": ceiling, "stack_floor": stack_floor(workdir, min(seconds, 20))}
    for count in processes:
        url = f"sqlite:///{workdir / f'ingest-{count}.db'}"
        common.prepare_database(url)
        apps, redis = serve(workdir, url, count, f"ingest-{count}")
        try:
            http = http_ingest(apps, seconds=seconds,
                               profile_to=workdir / "ingest.pyspy" if count == 1 else None)
        finally:
            stop(apps, redis)
        http["ratio_to_sqlite_ceiling"] = http["events_per_s"] / ceiling["transactions_per_s"]
        http["ratio_to_stack_floor"] = http["events_per_s"] / results["stack_floor"]["events_per_s"]
        results["http" if count == 1 else f"http_{count}"] = http
    results["profile"] = profile.summary(workdir / "ingest.pyspy")
    results["per_request"] = cost.measure(workdir, cost_requests)
    return results


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--quick", action="store_true", help="10 s per run")
    parser.add_argument("--processes", default="1,2",
                        help="app processes per run, e.g. 1 or 1,2 (default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), 10 if args.quick else args.seconds,
                             tuple(int(n) for n in args.processes.split(",")),
                             200 if args.quick else 500), indent=2))
