"""Update latency (issue #17, benchmark 3): from a gift's commit to the watchers' screens at
5,000 lean watchers over 5 campaign rooms, at the default LIVE_UPDATES_PER_SECOND (4), two
loads:

- *trickle*: 1 gift a second per campaign. Each gift finds its campaign quiet, so the leading
  edge sends it at once: the latency is the push itself (its database work and the fan-out).
  Targets p50 < 50 ms, p99 < 150 ms.
- *continuous*: 10 gifts a second per campaign. Every window is busy; a gift waits for the end
  of the window it arrived in (0-250 ms, ~125 ms on average) plus the push. Target p99 < 300 ms.

Baseline from the same run: the fan-out's server CPU per watcher per update against a bare
websocket send of the same frame, and python-socketio's own emit (``bench.fanout``).

``--code DIR`` serves the app from another checkout (the same bench code drives it): for
before/after runs, ``git worktree add /tmp/before <commit>`` and alternate the two. The
fan-out rows need this checkout's transport, so they are left out then.

    python -m bench.latency --seconds 30 [--loads trickle,continuous] [--code DIR]
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from . import common, profile, screen

WATCHERS = 5000
LOADS = {   # gifts a second per campaign
    "trickle": 1,
    "continuous": 10,
}
TARGETS = {   # (percentile, ms)
    "trickle": (("p50_ms", 50), ("p99_ms", 150)),
    "continuous": (("p99_ms", 300),),
}


def verdicts(load: str, result: dict) -> dict:
    out = {}
    for key, target in TARGETS[load]:
        value = result[key]
        out[key] = {"target_ms": target, "value_ms": value, "ratio": value / target,
                    "met": value < target}
    return out


def pushes(base: str) -> dict | None:
    """The app's push durations (``twestival_live_push_seconds``): count, mean, and the
    histogram's bucket bounds at the median and the 99th percentile."""
    import urllib.request
    with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
        text = response.read().decode()
    buckets, total, count = [], 0.0, 0
    for line in text.splitlines():
        if line.startswith("twestival_live_push_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), float(line.rsplit(" ", 1)[1])))
        elif line.startswith("twestival_live_push_seconds_sum"):
            total = float(line.rsplit(" ", 1)[1])
        elif line.startswith("twestival_live_push_seconds_count"):
            count = int(float(line.rsplit(" ", 1)[1]))
    if not count:
        return None   # a checkout without the histogram

    def at(q):
        return next(bound for bound, n in buckets if n >= q * count) * 1e3
    return {"count": count, "mean_ms": total / count * 1e3, "p50_ms_at_most": at(0.5),
            "p99_ms_at_most": at(0.99)}


def fanout(watchers: int, rounds: int) -> dict:
    """``bench.fanout`` in a process of its own (it serves in-process, under gevent)."""
    out = subprocess.run([sys.executable, "-m", "bench.fanout", "--watchers", str(watchers),
                          "--rounds", str(rounds)], cwd=common.ROOT,
                         capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"bench.fanout failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(workdir: Path, seconds: float = 30, loads=tuple(LOADS), watchers: int = WATCHERS,
        code: Path | None = None, fanout_rounds: int = 30) -> dict:
    results: dict = {"code": str(code or common.ROOT), "watchers": watchers}
    for load in loads:
        per_campaign = LOADS[load]
        name = f"latency-{load}"
        url = f"sqlite:///{workdir / f'{name}.db'}"
        tokens = common.tokens(common.prepare_database(url, campaigns=screen.CAMPAIGNS,
                                                       root=code))
        app = common.App(common.app_env(url, LIVE_UPDATES_PER_SECOND=4),
                         workdir / f"{name}.log", root=code)
        spy = []

        def profiled():   # the measured window only, and only this checkout's
            if code is None:
                spy.append(profile.record_later(app.worker_pid(), 0, seconds,
                                                workdir / f"{name}.spy"))
        try:
            row = screen.run_one([app], tokens, watchers, per_campaign * screen.CAMPAIGNS,
                                 seconds, lean=True, on_start=profiled)
            row["push"] = pushes(app.base)
        finally:
            app.stop()
        if spy and spy[0] is not None:
            spy[0].join(timeout=60)
            row["profile"] = profile.summary(workdir / f"{name}.spy")
        row["gifts_per_s_per_campaign"] = per_campaign
        row["targets"] = verdicts(load, row)
        results[load] = row
        print(json.dumps({load: {k: row[k] for k in ("p50_ms", "p99_ms", "latency_samples",
                                                     "messages_delivered", "targets")}}),
              flush=True)
    if fanout_rounds and code is None:
        results["fanout"] = fanout(watchers, fanout_rounds)
        print(json.dumps({"fanout": results["fanout"]}), flush=True)
    return results


def report_lines(results: dict) -> list[str]:
    """BENCHMARKS.md's section for ``run``'s results."""
    lines = ["## Update latency (issue #17, benchmark 3)", "",
             f"One app process (gunicorn, gevent worker, SQLite), {results['watchers']:,} watchers "
             f"over {screen.CAMPAIGNS} campaign rooms, lean (all but the 200 timed python-socketio "
             "clients are `bench.drain` websockets), LIVE_UPDATES_PER_SECOND at its default of 4. "
             "Latency: from the gift's commit (`recorded_at`) to the timed clients' receipt.", "",
             "| load | gifts/s per campaign | p50 ms | p99 ms | samples | messages delivered "
             "| server CPU share | targets |", "|---|---|---|---|---|---|---|---|"]
    for load in LOADS:
        row = results.get(load)
        if not row:
            continue
        verdict = "; ".join(
            f"{key[:3]} < {v['target_ms']} ms: " + ("met" if v["met"] else "**missed**")
            + f" ({v['ratio']:.2f}× the target)" for key, v in row["targets"].items())
        lines.append(f"| {load} | {row['gifts_per_s_per_campaign']} | {row['p50_ms']:.1f} | "
                     f"{row['p99_ms']:.1f} | {row['latency_samples']:,} | "
                     f"{row['messages_delivered']:,} | {row['server_cpu_share']:.2f} | {verdict} |")
    f = results.get("fanout")
    if f:
        lines += ["", f"Fan-out, server CPU per watcher per update ({f['watchers']:,} watchers, "
                  f"{f['rounds_each']} rounds of each kind, taken in turn): the publisher's emit "
                  f"**{f['emit_us_per_watcher']:.1f} µs**; python-socketio's own emit "
                  f"{f['stock_emit_us_per_watcher']:.1f} µs; baseline, a bare non-blocking "
                  f"websocket `send()` of the same frame: {f['bare_send_us_per_watcher']:.1f} µs. "
                  f"Ratio to the baseline: **{f['ratio_to_bare']:.2f}×** (python-socketio's: "
                  f"{f['stock_ratio_to_bare']:.2f}×). Frames received: {f['received']:,} of "
                  f"{f['sent']:,}."]
    return lines + [""]


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--loads", default=",".join(LOADS))
    parser.add_argument("--watchers", type=int, default=WATCHERS)
    parser.add_argument("--fanout-rounds", type=int, default=30, help="0: no fan-out rows")
    parser.add_argument("--code", type=Path, help="serve the app from this checkout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(run(Path(tmp), args.seconds, args.loads.split(","), args.watchers,
                             args.code, args.fanout_rounds), indent=1))
