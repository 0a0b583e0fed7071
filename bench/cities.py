"""Benchmark: cost as the number of cities grows (issue #17). With 15, 150 and 1,000 cities:
the board page, the snapshot, one `leaderboard_update` and the venue screen — time to render
(the page cache bypassed), bytes, and the update's size, which must not grow with the cities.
In-process (Flask's test client, the real templates and queries, SQLite)."""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from . import common, crowd

SIZES = (15, 150, 1000)
TARGET_RENDER_MS = 20
GIFTED = 200   # cities given a first gift (ranks and totals to draw; fewer keeps set-up short)


def _timed(fn, rounds: int, cpu: list | None = None) -> tuple[float, int]:
    """Median wall ms and the last size; ``cpu`` gets the median CPU ms of this process, which
    time taken by other processes on a shared machine does not inflate."""
    times, cpus, size = [], [], 0
    for i in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        size = fn(i)
        times.append(time.perf_counter() - started)
        cpus.append(time.process_time() - started_cpu)
    if cpu is not None:
        cpu.append(statistics.median(cpus) * 1e3)
    return statistics.median(times) * 1e3, size


def measure(workdir: Path, n: int) -> dict:
    from twestival import create_app
    from twestival.campaigns.service import get_campaign
    from twestival.extensions import db, socketio
    from twestival.live.board import snapshot
    from twestival.web import pagecache

    url = f"sqlite:///{workdir / f'cities-{n}.db'}"
    crowd.prepare(url, n)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER": "off",
                      "STRIPE_WEBHOOK_SECRET": common.STRIPE_SECRET,
                      "STRIPE_SECRET_KEY": "sk_test_benchmark_only"})
    publisher = app.extensions["twestival.live"]
    client = app.test_client()
    slugs = [s for s, _ in crowd.cities(n)]

    def give(i: int, slug: str) -> None:
        body = common.stripe_event(i, slug, crowd.CAMPAIGN)
        response = client.post("/webhooks/stripe", data=body, content_type="application/json",
                               headers={"Stripe-Signature": common.stripe_signature(body)})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]

    try:
        for i, slug in enumerate(slugs[:GIFTED]):
            give(i, slug)
        publisher.drain()
        rounds = 20 if n < 1000 else 8
        board_cpu: list[float] = []
        pages = app.extensions[pagecache.EXTENSION]

        def render(path: str):
            # The first render after an update: the board's rows, which the pages of one seq
            # share (web/shown.py), read again too.
            def once(i: int) -> int:
                pages.changed(crowd.CAMPAIGN)
                return len(client.get(f"{path}?render={i}").get_data())
            return once
        board_ms, board_bytes = _timed(render(f"/c/{crowd.CAMPAIGN}"), rounds, board_cpu)
        client.get(f"/c/{crowd.CAMPAIGN}")
        cached_ms, _ = _timed(lambda i: len(client.get(f"/c/{crowd.CAMPAIGN}").get_data()), 50)
        screen_ms, screen_bytes = _timed(render(f"/c/{crowd.CAMPAIGN}/screen"), rounds)
        with app.app_context():
            camp = get_campaign(db.session, crowd.CAMPAIGN)

            def snap(_i):
                size = len(json.dumps(snapshot(db.session, camp)).encode())
                db.session.rollback()
                return size
            snap_cpu: list[float] = []
            snap_ms, snap_bytes = _timed(snap, rounds, snap_cpu)

        watcher = socketio.test_client(app, namespace="/live")
        watcher.emit("watch", {"campaign": crowd.CAMPAIGN}, namespace="/live")
        watcher.get_received("/live")
        updates = []
        # A gift to a city in the middle of the ranking, then one to the leader: what a
        # typical update carries (changed rows, and those whose rank moved because of them).
        for i, slug in enumerate((slugs[min(GIFTED, n) // 2], slugs[0], slugs[-1])):
            give(10_000 + i, slug)
            publisher.drain()
            for message in watcher.get_received("/live"):
                if message["name"] == "leaderboard_update":
                    args = message["args"][0]
                    updates.append({"bytes": len(json.dumps(args).encode()),
                                    "rows": len(args["cities"])})
        watcher.disconnect(namespace="/live")
        return {"cities": n, "board_render_ms": board_ms, "board_bytes": board_bytes,
                "board_cpu_ms": board_cpu[0], "snapshot_cpu_ms": snap_cpu[0],
                "board_cached_ms": cached_ms, "snapshot_ms": snap_ms,
                "snapshot_bytes": snap_bytes, "screen_render_ms": screen_ms,
                "screen_bytes": screen_bytes, "updates": updates}
    finally:
        publisher.stop()
        with app.app_context():
            db.engine.dispose()


def run(workdir: Path, sizes=SIZES) -> dict:
    work = workdir / "cities"
    work.mkdir(exist_ok=True)
    out = {}
    for n in sizes:
        out[str(n)] = measure(work, n)
        print(f"  {n} cities: {out[str(n)]}", flush=True)
    return out


def report(r: dict) -> list[str]:
    lines = ["## Cities: cost as the number of cities grows", "",
             "`bench/cities.py`, in-process (Flask's test client, the real templates and "
             f"queries, SQLite); the first {GIFTED} cities have a gift. Render: the first "
             "render after an update (the page cache and the rows its pages share bypassed), "
             "median; cached: the same page from the "
             "page cache (web/pagecache.py). Update: the `leaderboard_update` a campaign "
             "watcher gets after one gift (to a city mid-ranking, to the leader, to a city "
             "with nothing yet), JSON bytes and rows.", "",
             "The board page renders the first 50 rows; `live.js` builds the rest from the "
             "page's JSON. CPU: this process's CPU time, median (time other processes take "
             "on a shared machine does not count); the board's includes its snapshot read.", "",
             "| cities | board render ms | board CPU ms | board bytes | board cached ms | "
             "snapshot ms | snapshot CPU ms | snapshot bytes | venue screen render ms | "
             "screen bytes | update bytes (rows) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, m in r.items():
        ups = ", ".join(f"{u['bytes']:,} ({u['rows']})" for u in m["updates"])
        lines.append(f"| {int(n):,} | {m['board_render_ms']:.1f} | {m['board_cpu_ms']:.1f} | "
                     f"{m['board_bytes']:,} | {m['board_cached_ms']:.2f} | "
                     f"{m['snapshot_ms']:.1f} | {m['snapshot_cpu_ms']:.1f} | "
                     f"{m['snapshot_bytes']:,} | {m['screen_render_ms']:.1f} | "
                     f"{m['screen_bytes']:,} | {ups} |")
    small, big = r[min(r, key=int)], r[max(r, key=int)]
    growth = (max(u["bytes"] for u in big["updates"]) /
              max(1, max(u["bytes"] for u in small["updates"])))
    render = big["board_render_ms"]
    lines += ["", f"Targets: the {int(big['cities']):,}-city board renders in < "
              f"{TARGET_RENDER_MS} ms: {'met' if render < TARGET_RENDER_MS else '**missed**'} "
              f"({render / TARGET_RENDER_MS:.2f}× the target; CPU {big['board_cpu_ms']:.1f} ms, "
              f"of which the snapshot read ~{big['snapshot_cpu_ms']:.1f}); an update's size "
              "does not grow "
              f"with the cities: largest update at {int(big['cities']):,} cities / at "
              f"{int(small['cities'])}: {growth:.2f}× "
              f"({'met' if growth < 1.5 else '**missed**'}).", ""]
    return lines


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twestival-cities.") as tmp:
        out = run(Path(tmp), [int(s) for s in args.sizes.split(",")])
    print("\n".join(report(out)))
