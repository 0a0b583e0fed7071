"""Run every benchmark, print the figures, write BENCHMARKS.md (and bench/results/*.json)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

from . import cities, common, crowd, imports, ingest, latency, leaderboard, scaleout, screen

TARGETS = {
    "ingest_events_per_s": 1000, "ingest_p99_ms": 100,
    "screen_p50_ms": 100, "screen_p99_ms": 250, "screen_kb_per_watcher": 50,
    "leaderboard_p99_ms": 5, "leaderboard_growth": 1.2,
    "import_seconds": 30, "import_peak_mb": 300, "import_p99_ratio": 2,
}


def verdict(value: float, target: float, higher_is_better: bool = False) -> str:
    met = value >= target if higher_is_better else value <= target
    if met:
        return "met"
    factor = target / value if higher_is_better else value / target
    return f"**missed** ({factor:.1f}× off)"


def fmt(x, digits=1):
    return f"{x:,.{digits}f}" if isinstance(x, (int, float)) else str(x)


def report(results: dict, args) -> str:
    m = results["machine"]
    lines = [
        "# Benchmarks", "",
        f"Written by `./scripts/bench` on {results['finished']} (UTC). Every figure below was "
        "measured in that one run on this machine; ratios compare against a baseline measured "
        "in the same run. Re-run `./scripts/bench` to refresh this file (`--quick` for a short "
        "run; `--max-entries` caps benchmark 3).", "",
        "## Machine", "",
        "| | |", "|---|---|",
        f"| CPU | {m['cpu']} |", f"| cores | {m['cores']} |", f"| memory | {m['memory_gb']} GB |",
        f"| Python | {m['python']} |", f"| SQLite | {m['sqlite']} |",
        f"| PostgreSQL | {m.get('postgresql', 'n/a')} |", f"| Redis | {m.get('redis', 'n/a')} |",
        f"| kernel | {m['kernel']} |", "",
        "The load generators (benchmark 1: a plain HTTP/1.1 client on asyncio, ~0.15 ms of CPU "
        "a request; benchmark 2: aiohttp for the donations, python-socketio clients and, in the "
        "lean rows, frame-counting websockets for the watchers) run on the same cores as the "
        "server, as they would on a one-box deployment test; they take a share of the CPU.", "",
    ]
    if "ingest" in results:
        r = results["ingest"]
        h, c = r["http"], r["sqlite_ceiling"]
        lines += [
            "## 1. Ingest", "",
            f"Path: {h['path']}. Served as production is: one `gunicorn -k gevent -w 1 "
            f"twestival.wsgi:app` per process, SQLite (WAL, synchronous=NORMAL). Closed loop, "
            f"{h['concurrency']} connections, {fmt(h['seconds'], 0)} s after a 3 s warm-up.", "",
            "| | events/s | p50 ack ms | p99 ack ms | server CPU ms/event |", "|---|---|---|---|---|",
            f"| whole HTTP path, 1 process | {fmt(h['events_per_s'])} | {fmt(h['p50_ms'])} | "
            f"{fmt(h['p99_ms'])} | {fmt(h['server_cpu_s_per_event'] * 1e3)} |",
        ]
        for key, h2 in r.items():
            if key.startswith("http_"):
                lines.append(f"| whole HTTP path, {h2['processes']} processes on the same SQLite "
                             f"file (+ Redis for pushes) | {fmt(h2['events_per_s'])} | "
                             f"{fmt(h2['p50_ms'])} | {fmt(h2['p99_ms'])} | "
                             f"{fmt(h2['server_cpu_s_per_event'] * 1e3)} |")
        f = r.get("stack_floor")
        if f:
            lines.append(f"| serving stack alone (same server, Flask, signature check and load; "
                         f"no database) | {fmt(f['events_per_s'])} | {fmt(f['p50_ms'])} | "
                         f"{fmt(f['p99_ms'])} | {fmt(f['server_cpu_s_per_event'] * 1e3)} |")
        lines += [
            f"| raw SQLite ceiling (1 entry + 1 total upsert per transaction) | "
            f"{fmt(c['transactions_per_s'])} | {fmt(c['p50_ms'], 3)} | {fmt(c['p99_ms'], 3)} | |",
            "",
            f"Ratio to the ceiling: **{h['ratio_to_sqlite_ceiling']:.3f}**"
            + (f"; to the serving stack alone: **{h['ratio_to_stack_floor']:.2f}**" if f else "")
            + f". Statuses: {h['statuses']}.", "",
        ]
        best = max((v for k, v in r.items() if k.startswith("http")),
                   key=lambda v: v["events_per_s"])
        lines += [
            f"Targets ({best['processes']} process(es), the best row): ≥ 1,000 events/s: "
            f"{verdict(best['events_per_s'], 1000, True)}; p99 < 100 ms: "
            f"{verdict(best['p99_ms'], 100)}.", "",
        ]
        if r.get("per_request"):
            lines += ["The app alone, per request (Flask test client, no HTTP server; CPU time of "
                      "the cheapest of several rounds, so time stolen by other processes does "
                      "not count):", "", "| path | app CPU ms/request | SQL statements/request |",
                      "|---|---|---|"]
            for kind, label in (("stripe", "POST /webhooks/stripe"),
                                ("api", "POST /api/v1/…/donations (JSON API)")):
                p = r["per_request"][kind]
                lines.append(f"| {label} | {fmt(p['cpu_ms_per_request'], 2)} | "
                             f"{fmt(p['statements_per_request'], 0)} |")
            g = r["per_request"].get("stripe_grouped")
            if g:
                lines.append(f"| POST /webhooks/stripe, the write only (archive and process) for "
                             f"{g['group']} deliveries that arrived together (group commit), "
                             f"per delivery | {fmt(g['cpu_ms_per_request'], 2)} | "
                             f"{fmt(g['statements_per_request'], 1)} |")
            lines.append("")
        if r.get("profile"):
            lines += ["py-spy on the app worker during the run (share of samples, inclusive):", "",
                      "```"] + [f"{share * 100:5.1f}%  {frame}" for share, frame in r["profile"]] \
                     + ["```", ""]
    if "screen" in results:
        lines += ["## 2. Donation to screen", "",
                  "One app process (gunicorn, gevent worker, SQLite); watchers are python-socketio "
                  "asyncio clients on websockets (offering permessage-deflate, as browsers do), "
                  "4 client processes, spread over "
                  f"{screen.CAMPAIGNS} campaign rooms (the /live namespace has campaign rooms); "
                  "donations through the JSON API at 50/s, one sequential poster per city. "
                  "Latency: from the entry's `recorded_at` (set in the committing transaction) "
                  "to the client's receipt of the update that includes it, sampled on 200 "
                  "watchers. Updates are coalesced to LIVE_UPDATES_PER_SECOND per campaign (4 by "
                  "default, issue #2), so at the default a donation waits up to 250 ms for its "
                  "update by design (about 125 ms on average when every window is busy); the "
                  "raised rows raise the setting, to show what delivery itself achieves. Delivery "
                  "CPU: the window's server CPU less the donations' (measured alone after it), "
                  "per message. *Lean* rows: the same, but only the 200 sampled watchers are "
                  "python-socketio clients; the others are `bench.drain` websockets that speak "
                  "the same protocol (upgrade, namespace connect, `watch`, pongs) and only count "
                  "frames, so the server sends them exactly what it sends any watcher while the "
                  "watchers take far less of the box's CPU (the clients' column: their share of "
                  "a core in the window).",
                  "",
                  "| watchers | updates/s | donations posted | messages delivered | p50 ms | "
                  "p99 ms | server CPU ms/message | delivery CPU ms/message | "
                  "KB/watcher (server RSS) | server CPU share | clients' CPU share | connect s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for size, s in results["screen"].items():
            lean = " (lean)" if s.get("lean_watchers") else ""
            lines.append(f"| {s['watchers']}{lean} | {s.get('updates_per_second', 4)} | "
                         f"{s['donations_posted']} | "
                         f"{s['messages_delivered']:,} | {fmt(s['p50_ms'])} | {fmt(s['p99_ms'])} | "
                         f"{fmt(s['server_cpu_ms_per_message'], 3)} | "
                         f"{fmt(s.get('delivery_cpu_ms_per_message'), 3)} | "
                         f"{fmt(s['kb_per_watcher'])} | {fmt(s['server_cpu_share'], 2)} | "
                         f"{fmt(s.get('watcher_clients_cpu_share'), 2)} | "
                         f"{fmt(s['connect_seconds'])} |")
        lines.append("")
        biggest = max(s["watchers"] for s in results["screen"].values())
        for s in results["screen"].values():
            if s["watchers"] != biggest:
                continue
            lean = " (lean watchers)" if s.get("lean_watchers") else ""
            lines.append(f"Targets at {s['watchers']}{lean}, {s.get('updates_per_second', 4)} "
                         f"updates/s: p50 < 100 ms: {verdict(s['p50_ms'], 100)}; p99 < 250 ms: "
                         f"{verdict(s['p99_ms'], 250)}; ≤ 50 KB/watcher: "
                         f"{verdict(s['kb_per_watcher'], 50)}.")
            lines.append("")
    if "leaderboard" in results:
        rows = results["leaderboard"]["sizes"]
        sizes_run = ", ".join(f"{r['entries']:,}" for r in rows)
        lines += ["## 3. Leaderboard cost vs ledger size", "",
                  "The real leaderboard read (`live.board.snapshot`: running totals + seq) "
                  "against `SELECT city_id, SUM(reporting_minor), COUNT(*) FROM ledger_entry "
                  "WHERE campaign_id = ? GROUP BY city_id`, same database, same session. Entries "
                  f"bulk-inserted into SQLite; sizes run: {sizes_run}"
                  f" (--max-entries {args.max_entries:,}).", "",
                  "| entries | leaderboard p50 ms | p99 ms | p99 vs smallest | SUM p50 ms | "
                  "SUM p99 ms | SUM / leaderboard (p50) | file MB |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['entries']:,} | {fmt(r['leaderboard_p50_ms'], 2)} | "
                         f"{fmt(r['leaderboard_p99_ms'], 2)} | {r['p99_vs_smallest']:.2f}× | "
                         f"{fmt(r['sum_p50_ms'], 1)} | {fmt(r['sum_p99_ms'], 1)} | "
                         f"{fmt(r['sum_p50_vs_leaderboard_p50'], 0)}× | {fmt(r['file_mb'], 0)} |")
        last = rows[-1]
        lines += ["", f"Targets: p99 < 5 ms at {last['entries']:,}: "
                  f"{verdict(last['leaderboard_p99_ms'], 5)}; largest within 1.2× of 10^4 (p99): "
                  f"{verdict(last['p99_vs_smallest'], 1.2)}.", ""]
    if "imports" in results:
        r = results["imports"]
        b = r["sqlite_executemany_baseline"]
        lines += ["## 4. Import", "",
                  "`twestival import` (its own process) on a generated Eventbrite attendee export "
                  "and a generated bank CSV statement (through a saved `bank` mapping), while the "
                  f"app takes signed Stripe webhooks at {r['webhooks_per_s']}/s. Peak RSS: the "
                  "import process and its children. Write lock: how long each of the import's "
                  "write transactions held SQLite's one write lock. Baseline: the same number of "
                  f"ledger rows by raw SQLite executemany: {fmt(b['seconds'])} s "
                  f"({fmt(b['rows_per_s'], 0)} rows/s).", "",
                  "| file | rows | exit | seconds | rows/s | CPU s | peak RSS MB | lock held p50 / "
                  "p99 / max ms (CPU p50 ms) | webhook p99 ms without / during | ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name in ("eventbrite", "bank_csv"):
            i = r[name]
            lines.append(
                f"| {name} | {i['rows']:,} | {i['exit_status']} | {fmt(i['seconds'])} | "
                f"{fmt(i['rows_per_s'], 0)} | {fmt(i['cpu_seconds'])} | {fmt(i['peak_rss_mb'])} | "
                f"{fmt(i['write_lock_held_ms']['p50'])} / {fmt(i['write_lock_held_ms']['p99'])} / "
                f"{fmt(i['write_lock_held_ms']['max'])} ({fmt(i['write_lock_cpu_ms']['p50'])}) | "
                f"{fmt(i['webhooks_quiet']['p99_ms'])} / {fmt(i['webhooks_during']['p99_ms'])} | "
                f"{i['p99_ratio']:.2f}× |")
        lines.append("")
        for name in ("eventbrite", "bank_csv"):
            i = r[name]
            lines.append(f"Targets ({name}): ≤ 30 s: {verdict(i['seconds'], 30)}; < 300 MB: "
                         f"{verdict(i['peak_rss_mb'], 300)}; webhook p99 ≤ 2×: "
                         f"{verdict(i['p99_ratio'], 2)}.")
        lines.append("")
    if "scaleout" in results:
        s = results["scaleout"]
        one = results.get("ingest", {}).get("http")
        i2 = s["ingest"]
        lines += ["## 5. Scale-out: two processes + Redis + PostgreSQL vs one process", "",
                  "Two `gunicorn -k gevent -w 1` processes (TWESTIVAL_SCHEDULER=on on one, off on "
                  "the other) on one PostgreSQL database with TWESTIVAL_REDIS_URL set; the load "
                  "generator spreads connections over both (as a load balancer would). Baseline: "
                  "benchmarks 1 and 2 above (one process, SQLite), same run.", "",
                  "| | events/s | p50 ms | p99 ms | app CPU ms/event | PostgreSQL CPU ms/event |",
                  "|---|---|---|---|---|---|"]
        sqlite_rows = [("1 process, SQLite", one),
                       ("2 processes, SQLite (+ Redis)", results.get("ingest", {}).get("http_2"))]
        for label, row in sqlite_rows:
            if row:
                lines.append(f"| ingest, {label} | {fmt(row['events_per_s'])} | "
                             f"{fmt(row['p50_ms'])} | {fmt(row['p99_ms'])} | "
                             f"{fmt(row['server_cpu_s_per_event'] * 1e3)} | (SQLite: in the app) |")
        db_cpu = i2.get("database_cpu_s_per_event")
        lines.append(f"| ingest, 2 processes, PostgreSQL + Redis | {fmt(i2['events_per_s'])} | "
                     f"{fmt(i2['p50_ms'])} | {fmt(i2['p99_ms'])} | "
                     f"{fmt(i2['server_cpu_s_per_event'] * 1e3)} | "
                     f"{fmt(db_cpu * 1e3) if db_cpu is not None else ''} |")
        if one:
            lines += ["", f"Ratio (2 processes / 1): **{i2['events_per_s'] / one['events_per_s']:.2f}**", ""]
        lines += ["", "| watchers | topology | p50 ms | p99 ms | server CPU ms/message | KB/watcher |",
                  "|---|---|---|---|---|---|"]
        # keys: "5000", or "5000 lean" for the lean watchers' row (see benchmark 2)
        for size, two in s["screen"].items():
            base = results.get("screen", {}).get(size)
            if base:
                lines.append(f"| {size} | 1 process, SQLite | {fmt(base['p50_ms'])} | "
                             f"{fmt(base['p99_ms'])} | {fmt(base['server_cpu_ms_per_message'], 3)} | "
                             f"{fmt(base['kb_per_watcher'])} |")
            lines.append(f"| {size} | 2 processes, PostgreSQL + Redis | {fmt(two['p50_ms'])} | "
                         f"{fmt(two['p99_ms'])} | {fmt(two['server_cpu_ms_per_message'], 3)} | "
                         f"{fmt(two['kb_per_watcher'])} |")
        lines.append("")
    if "crowd" in results:
        lines += crowd.report(results["crowd"])
    if "cities" in results:
        lines += cities.report(results["cities"])
    if "latency" in results:
        lines += latency.report_lines(results["latency"])
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        lines += [notes.read_text()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="short durations (10 s ingest, 10 s screen, up to 10^6 entries)")
    parser.add_argument("--ingest-seconds", type=float, default=60)
    parser.add_argument("--screen-seconds", type=float, default=30)
    parser.add_argument("--watchers", default="1000,5000")
    parser.add_argument("--max-entries", type=int, default=10**7)
    parser.add_argument("--only", default="ingest,screen,leaderboard,imports,scaleout,crowd,"
                                          "cities,latency")
    parser.add_argument("--crowd-seconds", type=float, default=20)
    parser.add_argument("--output", default=str(common.ROOT / "BENCHMARKS.md"))
    parser.add_argument("--render", metavar="JSON",
                        help="only re-write the report from a results file (bench/results/*.json)")
    args = parser.parse_args()
    if args.render:
        results = json.loads(Path(args.render).read_text())
        args.max_entries = max(r["entries"] for r in results.get("leaderboard", {}).get(
            "sizes", [{"entries": 0}]))
        Path(args.output).write_text(report(results, args))
        print(f"wrote {args.output}")
        return
    if args.quick:
        args.ingest_seconds, args.screen_seconds, args.crowd_seconds = 10, 10, 8
        args.max_entries = min(args.max_entries, 10**6)
    sizes = [int(s) for s in args.watchers.split(",")]
    only = set(args.only.split(","))
    results: dict = {"machine": common.machine(), "started": dt.datetime.utcnow().isoformat(" ", "seconds")}
    print(json.dumps(results["machine"]), flush=True)
    with tempfile.TemporaryDirectory(prefix="twestival-bench.") as tmp:
        work = Path(tmp)
        steps = [
            ("ingest", lambda: ingest.run(work, args.ingest_seconds)),
            ("screen", lambda: screen.run(work, sizes, args.screen_seconds)),
            ("leaderboard", lambda: leaderboard.run(work, args.max_entries)),
            ("imports", lambda: imports.run(work, 200_000 if args.quick else 1_000_000)),
            ("scaleout", lambda: scaleout.run(work, args.ingest_seconds, sizes, args.screen_seconds)),
            ("crowd", lambda: crowd.run(work, args.crowd_seconds)),
            ("cities", lambda: cities.run(work)),
            ("latency", lambda: latency.run(work, args.screen_seconds)),
        ]
        for name, step in steps:
            if name not in only:
                continue
            started = time.perf_counter()
            print(f"--- {name}", flush=True)
            results[name] = step()
            print(json.dumps(results[name], indent=1, default=str)[:3000], flush=True)
            print(f"--- {name}: {time.perf_counter() - started:.0f} s", flush=True)
    results["finished"] = dt.datetime.utcnow().isoformat(" ", "seconds")
    out_dir = common.ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(results, indent=1, default=str))
    Path(args.output).write_text(report(results, args))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
