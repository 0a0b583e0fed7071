"""Benchmark: the crowd at the door (issue #17). Viewers load the board, city pages, the widget,
the leaderboard JSON and the share image while 50 gifts a second arrive as signed Stripe
webhooks; served (a) by one gunicorn gevent process, (b) through docs/deploy/nginx.conf (the
documented sample, its ports and paths substituted). Baseline in the same run: nginx serving a
static file the size of the board page.

Needs `nginx` and `wrk` (Debian: `apt-get install nginx wrk`); not part of CI.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import multiprocessing
import re
import shutil
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from . import common

CAMPAIGN = "crowd"
CITY_COUNT = 15
CURRENCIES = ("GBP", "EUR", "USD", "JPY", "AUD")
GIFTS_PER_S = 50
CONNECTIONS = 50
TARGETS = {"a": (2000, 50), "b": (15000, 20)}   # board loads/s, p99 ms
FRESH_SECONDS = 2.0
# The realistic mix: most phones open the board the MC shows, some their own city.
MIX = (("board", 40), ("city", 25), ("widget", 15), ("leaderboard", 15), ("card", 5))


def cities(n: int) -> list[tuple[str, str]]:
    return [(f"city-{i:04d}", CURRENCIES[i % len(CURRENCIES)]) for i in range(n)]


def prepare(url: str, n: int, campaign: str = CAMPAIGN) -> None:
    code = f"""
from flask_migrate import upgrade
from twestival import create_app
from twestival.extensions import db
from twestival.campaigns.service import add_city, create_campaign
from twestival.ledger.fx import ensure_rates
app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}, "SECRET_KEY": "bench", "SCHEDULER": "off"}})
with app.app_context():
    upgrade()
    for code in {list(CURRENCIES)!r}:
        ensure_rates(db.session, code)
    camp = create_campaign(db.session, {campaign!r}, name="Crowd night", currency="GBP")
    for slug, cur in {cities(n)!r}:
        add_city(db.session, camp, slug, name=slug.replace("-", " ").title(), country="GB",
                 currency=cur, timezone="Europe/London", target="1000000" if cur == "JPY" else "10000")
    db.session.commit()
app.extensions["twestival.live"].stop()
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=common.ROOT,
                         capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"preparing {url} failed:\n{out.stderr}")


def paths(n: int) -> dict[str, list[str]]:
    slugs = [slug for slug, _ in cities(n)]
    return {"board": [f"/c/{CAMPAIGN}"],
            "city": [f"/c/{CAMPAIGN}/{s}" for s in slugs],
            "widget": [f"/c/{CAMPAIGN}/{s}/widget" for s in slugs],
            "leaderboard": [f"/api/v1/campaigns/{CAMPAIGN}/leaderboard"],
            "card": [f"/c/{CAMPAIGN}/{s}/card.png" for s in slugs]}


def wrk_script(workdir: Path, mix: dict[str, list[str]]) -> Path:
    """A wrk script that picks each request from the mix at random."""
    weighted = []
    for kind, weight in MIX:
        for path in mix.get(kind, []):
            weighted += [path] * max(1, weight * 10 // len(mix[kind]))
    script = workdir / "mix.lua"
    listing = ",".join(json.dumps(p) for p in weighted)
    script.write_text(f"local paths = {{{listing}}}\n"
                      "request = function()\n"
                      "  return wrk.format('GET', paths[math.random(#paths)], "
                      "{['Accept-Language'] = 'en-GB,en;q=0.9', ['Accept-Encoding'] = 'identity'})\n"
                      "end\n")
    return script


def wrk(base: str, seconds: float, script: Path | None = None, path: str = "/",
        connections: int = CONNECTIONS) -> dict:
    # The viewers' phones are elsewhere: the load generator yields the cores to the server
    # when both want them (nice), as far as one box allows.
    cmd = ["nice", "-n", "10", "wrk", "-t2", f"-c{connections}", f"-d{max(1, int(seconds))}s", "--latency",
           "-H", "Accept-Language: en-GB,en;q=0.9"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(cmd + [base + path], capture_output=True, text=True).stdout
    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    return {"loads_per_s": float(rps.group(1)) if rps else 0.0, "p50_ms": ms("50"),
            "p99_ms": ms("99"), "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock.group(1) if sock else "", "raw": out[-600:]}


class Gifts:
    """Signed Stripe webhooks at a steady rate (open loop); every ack's time and amount."""

    def __init__(self, base: str, n_cities: int, rate: float = GIFTS_PER_S):
        self.base, self.rate, self.slugs = base, rate, [s for s, _ in cities(n_cities)]
        self.acks: list[tuple[float, float, int]] = []   # (sent, acked, amount)
        self.failures = 0
        self._stop = threading.Event()
        self._n = 0

    def run_for(self, seconds: float) -> dict:
        start = len(self.acks)
        self._stop.clear()
        asyncio.run(self._drive(seconds))
        window = [a - s for s, a, _ in self.acks[start:]]
        return {"gifts": len(window), "p50_ms": common.percentile(window, 50) * 1e3,
                "p99_ms": common.percentile(window, 99) * 1e3, "failures": self.failures}

    def start_background(self, seconds: float) -> threading.Thread:
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(self.run_for(seconds)))
        thread.result = result
        thread.start()
        return thread

    async def _drive(self, seconds: float) -> None:
        from urllib.parse import urlsplit
        where = urlsplit(self.base)
        pool: asyncio.Queue = asyncio.Queue()
        for _ in range(16):
            pool.put_nowait(None)
        stop_at = time.perf_counter() + seconds
        tasks = []

        async def one(n: int) -> None:
            connection = await pool.get()
            amount = 1000 + n % 5000
            body = common.stripe_event(n, self.slugs[n % len(self.slugs)], CAMPAIGN)
            sent = time.perf_counter()
            try:
                if connection is None:
                    connection = await asyncio.open_connection(where.hostname, where.port)
                writer = connection[1]
                writer.write(f"POST /webhooks/stripe HTTP/1.1\r\nHost: {where.netloc}\r\n"
                             f"Content-Type: application/json\r\n"
                             f"Stripe-Signature: {common.stripe_signature(body)}\r\n"
                             f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                head = await connection[0].readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                await connection[0].readexactly(int(length.group(1)) if length else 0)
                if head[9:10] == b"2":
                    self.acks.append((sent, time.perf_counter(), amount))
                else:
                    self.failures += 1
            except (OSError, asyncio.IncompleteReadError):
                self.failures += 1
                if connection is not None:
                    connection[1].close()
                connection = None
            pool.put_nowait(connection)

        next_at = time.perf_counter()
        while next_at < stop_at:
            tasks.append(asyncio.ensure_future(one(self._n)))
            self._n += 1
            next_at += 1 / self.rate
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await asyncio.gather(*tasks)


def sample_totals(base: str, seconds: float, every: float = 0.05) -> dict:
    """A viewer that loads the leaderboard JSON and the board page over and over (as a phone
    refreshing would, with the same caches between): when it asked, and the total it was shown.
    Run in a process of its own (``freshness``): in the gift poster's process its parsing would
    hold the GIL while acknowledgements wait to be timed."""
    samples, failed = [], 0
    stop_at = time.perf_counter() + seconds
    board = re.compile(rb'<script id="board-data" type="application/json">(.*?)</script>', re.S)
    while time.perf_counter() < stop_at:
        for path in (f"/api/v1/campaigns/{CAMPAIGN}/leaderboard", f"/c/{CAMPAIGN}"):
            asked = time.perf_counter()
            try:
                with urllib.request.urlopen(base + path, timeout=10) as response:
                    body = response.read()
                data = json.loads(body if path.startswith("/api") else board.search(body).group(1))
            except (OSError, AttributeError, ValueError):
                failed += 1   # a timeout or error page: the viewer saw no total at all
                continue
            samples.append((asked, data["total_raised_minor"]))
        time.sleep(every)
    return {"samples": samples, "failed": failed}


def freshness(seen: dict, gifts: Gifts) -> dict:
    """For each load: how long ago was the oldest acknowledged gift (acknowledged before the
    viewer asked) that the total it was shown does not include?"""
    acks = sorted((a, amount) for _, a, amount in gifts.acks)
    worst, late, baseline = 0.0, 0, None
    for asked, total in seen["samples"]:
        acked = [(at, amount) for at, amount in acks if at < asked]
        if baseline is None:
            baseline = total - sum(amount for _, amount in acked)
        running, missing_since = baseline, None
        for at, amount in acked:   # the first acknowledged gift the total cannot include
            running += amount
            if running > total and missing_since is None:
                missing_since = at
        age = asked - missing_since if missing_since is not None else 0.0
        worst = max(worst, age)
        late += age > FRESH_SECONDS
    return {"loads": len(seen["samples"]), "worst_age_s": worst, "older_than_2s": late,
            "failed": seen["failed"]}


NGINX_MAIN = """
{user}
worker_processes 2;
worker_priority 10;   # docs/operations.md: the app's gifts first where nginx shares its cores
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    {site}
    server {{
        listen 127.0.0.1:{static_port};
        root {work}/static;
        location / {{ }}
    }}
}}
"""


def nginx_site(app_port: int, front_port: int, work: Path) -> str:
    """docs/deploy/nginx.conf as it is, with this run's ports and a cache path of its own; TLS
    off (no certificate here), the same proxy and cache directives."""
    site = (common.ROOT / "docs" / "deploy" / "nginx.conf").read_text()
    site = re.sub(r"upstream twestival \{.*?\n\}", "upstream twestival {\n    server "
                  f"127.0.0.1:{app_port};\n    keepalive 32;\n}}", site, flags=re.S)
    site = site.replace("/var/cache/nginx/twestival", str(work / "nginx-cache"))
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{front_port};")
    site = re.sub(r"\n\s*(http2 on|ssl_certificate(_key)?\s[^;]*);", "", site)
    site = re.sub(r"\nserver \{\n    listen 80;.*?\n\}\n", "\n", site, flags=re.S)
    return site


class Nginx:
    def __init__(self, work: Path, app_port: int):
        self.front, self.static = common.free_port(), common.free_port()
        conf = work / "nginx.conf"
        conf.write_text(NGINX_MAIN.format(user="user root;" if os.geteuid() == 0 else "", work=work, static_port=self.static,
                                          site=nginx_site(app_port, self.front, work)))
        (work / "static").mkdir(exist_ok=True)
        subprocess.run(["nginx", "-t", "-q", "-c", str(conf), "-p", str(work)], check=True)
        self.process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work),
                                         "-g", "daemon off;"])
        common.wait_http_or_port(self.front)
        self.base = f"http://127.0.0.1:{self.front}"
        self.static_base = f"http://127.0.0.1:{self.static}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def measure(front: str, app_base: str, workdir: Path, mix: Path, seconds: float,
            n_cities: int, label: str) -> dict:
    gifts = Gifts(front, n_cities)
    gifts.run_for(3)   # warm: a fresh process's first gifts compile its statements
    quiet = gifts.run_for(min(10.0, seconds))
    feeder = gifts.start_background(seconds + 2)
    time.sleep(1)
    # perf_counter is CLOCK_MONOTONIC on Linux: the viewer's times compare with the poster's.
    viewer = concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn"))
    seen = viewer.submit(sample_totals, front, seconds - 1)
    crowd = wrk(front, seconds, mix)
    checker = freshness(seen.result(), gifts)
    viewer.shutdown()
    feeder.join()
    feeder2 = gifts.start_background(seconds / 2 + 2)
    time.sleep(1)
    board = wrk(front, seconds / 2, path=f"/c/{CAMPAIGN}")
    feeder2.join()
    during = feeder.result
    print(f"  {label}: mix {crowd['loads_per_s']:.0f}/s p99 {crowd['p99_ms']:.1f} ms; board "
          f"{board['loads_per_s']:.0f}/s p99 {board['p99_ms']:.1f} ms; gift p99 quiet "
          f"{quiet['p99_ms']:.1f} / crowd {during['p99_ms']:.1f} ms; freshness {checker}",
          flush=True)
    return {"mix": crowd, "board": board, "gifts_quiet": quiet, "gifts_crowd": during,
            "gifts_board_only": feeder2.result, "freshness": checker,
            "gift_p99_ratio": during["p99_ms"] / max(quiet["p99_ms"], 1e-9)}


def run(workdir: Path, seconds: float = 20.0) -> dict:
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            raise RuntimeError(f"benchmark crowd needs {tool}: apt-get install nginx wrk")
    work = workdir / "crowd"
    work.mkdir(exist_ok=True)
    url = f"sqlite:///{work / 'crowd.db'}"
    prepare(url, CITY_COUNT)
    app = common.App(common.app_env(url, SCHEDULER="off"), work / "app.log")
    nginx = None
    try:
        nginx = Nginx(work, app.port)
        mix = wrk_script(work, paths(CITY_COUNT))
        results = {"a_gunicorn": measure(app.base, app.base, work, mix, seconds, CITY_COUNT,
                                         "(a) gunicorn"),
                   "b_nginx": measure(nginx.base, app.base, work, mix, seconds, CITY_COUNT,
                                      "(b) nginx")}
        page = urllib.request.urlopen(f"{app.base}/c/{CAMPAIGN}").read()
        (work / "static" / "board.html").write_bytes(page)
        results["static_baseline"] = wrk(nginx.static_base, seconds / 2, path="/board.html")
        results["static_baseline"]["bytes"] = len(page)
        results["page_bytes"] = {kind: len(urllib.request.urlopen(app.base + ps[0]).read())
                                 for kind, ps in paths(CITY_COUNT).items()}
        results["cities"] = CITY_COUNT
        results["seconds"] = seconds
        return results
    finally:
        if nginx is not None:
            nginx.stop()
        app.stop()


def report(r: dict) -> list[str]:
    def verdict(value, target, higher=False):
        met = value >= target if higher else value <= target
        ratio = value / target
        return f"{'met' if met else '**missed**'} ({ratio:.2f}× the target)"
    s = r["static_baseline"]
    lines = ["## Crowd: public pages under a rush", "",
             f"`bench/crowd.py`. One campaign of {r['cities']} cities; `wrk -t2 -c{CONNECTIONS}` "
             f"for {r['seconds']:.0f} s with a realistic mix (board 40 %, a city page 25 %, the "
             "widget 15 %, the leaderboard JSON 15 %, the share image 5 %; cities at random), "
             f"then the board alone, while {GIFTS_PER_S} gifts/s arrive as signed Stripe "
             "webhooks (open loop, 16 keep-alive connections). (a) one `gunicorn -k gevent "
             "-w 1` process, no proxy; (b) the same process behind `docs/deploy/nginx.conf` "
             "(micro-caching), webhooks through nginx too. Gift acknowledgement: quiet (gifts "
             "alone, 10 s, after 3 s of warming up) vs during the mix. Freshness: a viewer loading the leaderboard JSON "
             "and the board page every 50 ms through the same front (a process of its own) compares "
             "the total it is shown with the gifts acknowledged before it asked. Baseline: nginx serving a "
             f"static file of the board page's size ({s['bytes']:,} bytes) in the same run: "
             f"{s['loads_per_s']:,.0f} loads/s, p50 {s['p50_ms']:.2f} ms, p99 "
             f"{s['p99_ms']:.2f} ms. Everything (wrk, nginx, the app, the gift poster) shares "
             "the machine's 2 cores.", "",
             "| front | mix loads/s | mix p50 / p99 ms | board loads/s | board p50 / p99 ms | "
             "board vs static file | gift ack p99 quiet / crowd ms | ratio | oldest total "
             "seen | loads > 2 s old |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, label in (("a_gunicorn", "(a) gunicorn"), ("b_nginx", "(b) nginx")):
        m = r[key]
        f = m["freshness"]
        lines.append(
            f"| {label} | {m['mix']['loads_per_s']:,.0f} | {m['mix']['p50_ms']:.2f} / "
            f"{m['mix']['p99_ms']:.2f} | {m['board']['loads_per_s']:,.0f} | "
            f"{m['board']['p50_ms']:.2f} / {m['board']['p99_ms']:.2f} | "
            f"{m['board']['loads_per_s'] / max(s['loads_per_s'], 1):.2f}× | "
            f"{m['gifts_quiet']['p99_ms']:.1f} / {m['gifts_crowd']['p99_ms']:.1f} | "
            f"{m['gift_p99_ratio']:.2f}× | {f.get('worst_age_s', float('nan')):.2f} s | "
            f"{f.get('older_than_2s', '?')} of {f.get('loads', '?')}"
            + (f" ({f['failed']} failed)" if f.get("failed") else "") + " |")
    lines.append("")
    for key, label in (("a_gunicorn", "a"), ("b_nginx", "b")):
        m = r[key]
        loads, p99 = TARGETS[label]
        lines.append(f"Targets ({label}): ≥ {loads:,} board loads/s: "
                     f"{verdict(m['board']['loads_per_s'], loads, True)}; p99 < {p99} ms: "
                     f"{verdict(m['board']['p99_ms'], p99)}; gift p99 during the crowd ≤ 2× "
                     f"quiet: {verdict(m['gift_p99_ratio'], 2)}; every total no older than "
                     f"2 s: {'met' if m['freshness'].get('older_than_2s') == 0 and not m['freshness'].get('failed') else '**missed**'}.")
    lines += ["", "Bytes per answer: " + ", ".join(f"{k} {v:,}" for k, v in
                                                  r["page_bytes"].items()) + ".", ""]
    return lines


if __name__ == "__main__":
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="twestival-crowd.") as tmp:
        out = run(Path(tmp), args.seconds)
    print(json.dumps(out, indent=1, default=str))
    print("\n".join(report(out)))
