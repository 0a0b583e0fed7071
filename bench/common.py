"""Shared by the benchmarks: the machine, private services, app processes, seeded databases,
signed Stripe-style events and percentiles."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRIPE_SECRET = "whsec_benchmark_only"
CAMPAIGN = "bench"
CITIES = [  # slug, currency, country, timezone
    ("london", "GBP", "GB", "Europe/London"), ("tokyo", "JPY", "JP", "Asia/Tokyo"),
    ("berlin", "EUR", "DE", "Europe/Berlin"), ("new-york", "USD", "US", "America/New_York"),
    ("sydney", "AUD", "AU", "Australia/Sydney"),
]


# The ledger columns a raw baseline fills in, in the app's schema.
LEDGER_COLUMNS = ("campaign_id, city_id, stream, external_id, kind, amount_minor, currency, "
                  "city_minor, reporting_minor, reporting_currency, fx_rate, fx_date, occurred_at, "
                  "recorded_at, anonymous, provisional")


def raw_sqlite(path) -> tuple[sqlite3.Connection, int, int]:
    """A bare sqlite3 connection with the app's durability settings (WAL,
    synchronous=NORMAL), and the ids of the prepared database's first city and its campaign."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    campaign_id, city_id = conn.execute("SELECT campaign_id, id FROM city LIMIT 1").fetchone()
    return conn, campaign_id, city_id


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def machine() -> dict:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines()
                      if l.startswith("MemTotal")).split()[1])
    versions = {}
    for name, cmd in (("postgresql", [postgres_bin() / "postgres", "--version"] if postgres_bin() else None),
                      ("redis", ["redis-server", "--version"] if shutil.which("redis-server") else None)):
        if cmd:
            versions[name] = subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "kernel": platform.release(), **versions}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


class Postgres:
    """A private cluster in a temporary directory (run as the postgres user when we are root)."""

    def __init__(self):
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed")
        self.dir = Path(tempfile.mkdtemp(prefix="twestival-bench-pg."))
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._as_postgres(f"{self.bin}/initdb -D {self.dir}/data -U postgres --auth=trust -E UTF8 "
                          f">{self.dir}/initdb.log")
        self._as_postgres(f"{self.bin}/pg_ctl -D {self.dir}/data -l {self.dir}/log -w -o "
                          f"'-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                          f"-c max_connections=200 -c shared_buffers=256MB' start >/dev/null")
        self.admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, command: str) -> None:
        argv = ["su", "postgres", "-s", "/bin/sh", "-c", command] if os.geteuid() == 0 \
            else ["/bin/sh", "-c", command]
        subprocess.run(argv, check=True)

    def create(self) -> str:
        import psycopg
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def analyze(self, url: str) -> None:
        import psycopg
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             autocommit=True) as conn:
            conn.execute("ANALYZE")

    def cpu_seconds(self) -> float:
        """CPU used so far by the server: the postmaster, its live backends, and the backends
        that have ended (the postmaster reaps them)."""
        import psutil
        pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        main = psutil.Process(pid)
        times = main.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        for child in main.children(recursive=True):
            try:
                t = child.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl -D {self.dir}/data -m fast -w stop >/dev/null")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        wait_http_or_port(self.port)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def wait_http_or_port(port: int, path: str | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if path is None:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            else:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


class App:
    """One production-style app process: gunicorn, gevent worker, one worker."""

    def __init__(self, env: dict, log: Path, target: str = "twestival.wsgi:app",
                 root: Path | None = None):
        """``root``: the checkout to serve (another one's code for before/after runs)."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1", "--no-control-socket",
             "--worker-connections", "10000", "--backlog", "4096",
             "-b", f"127.0.0.1:{self.port}", target],
            cwd=root or ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)
        wait_http_or_port(self.port, "/healthz")

    def worker_pid(self) -> int:
        import psutil
        children = psutil.Process(self.process.pid).children()
        return children[0].pid if children else self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def app_env(database_url: str, redis_url: str | None = None, **extra) -> dict:
    env = {"TWESTIVAL_DATABASE_URL": database_url, "TWESTIVAL_SECRET_KEY": "bench",
           "TWESTIVAL_STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
           "TWESTIVAL_STRIPE_SECRET_KEY": "sk_test_benchmark_only"}
    if redis_url:
        env["TWESTIVAL_REDIS_URL"] = redis_url
    env.update({f"TWESTIVAL_{k}": str(v) for k, v in extra.items()})
    return env


def prepare_database(url: str, campaigns: int = 1, root: Path | None = None) -> str:
    """Migrate, create campaigns bench, bench2, ... with CITIES; returns an API token for the
    first campaign (tokens for all are in the returned JSON string's list, see tokens()).
    ``root``: the checkout whose migrations and code to use (see App)."""
    code = f"""
import json
from flask_migrate import upgrade
from twestival import create_app
from twestival.extensions import db
from twestival.campaigns.service import add_city, create_campaign
from twestival.accounts.service import create_token
app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}, "SECRET_KEY": "bench"}})
from twestival.ledger.fx import ensure_rates
tokens = []
with app.app_context():
    upgrade()
    for code in {sorted({c[1] for c in CITIES})!r}:
        ensure_rates(db.session, code)  # as a campaign set-up does, not on the first gift
    for n in range({campaigns}):
        slug = {CAMPAIGN!r} if n == 0 else f"{CAMPAIGN}{{n + 1}}"
        camp = create_campaign(db.session, slug, name=slug, currency="GBP")
        for city, cur, country, tz in {CITIES!r}:
            add_city(db.session, camp, city, name=city.title(), country=country, currency=cur,
                     timezone=tz, target="1000000")
        tokens.append([slug, create_token(db.session, camp)[1]])
    db.session.commit()
print(json.dumps(tokens))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=root or ROOT, capture_output=True,
                         text=True)
    if out.returncode:
        raise RuntimeError(f"preparing {url} failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def tokens(prepared: str) -> list[tuple[str, str]]:
    return [tuple(pair) for pair in json.loads(prepared)]


def stripe_event(n: int, city: str, campaign: str = CAMPAIGN, email: bool = True) -> bytes:
    """A ``checkout.session.completed`` event shaped like Stripe's (API 2024-06-20). Checkout
    collects every donor's email, so each gift also writes its receipt (``email=False``: not)."""
    now = int(time.time())
    return json.dumps({
        "id": f"evt_bench_{uuid.uuid4().hex}", "object": "event", "api_version": "2024-06-20",
        "created": now, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": "checkout.session.completed",
        "data": {"object": {
            "id": f"cs_test_{uuid.uuid4().hex}", "object": "checkout.session",
            "amount_subtotal": 1000 + n % 5000, "amount_total": 1000 + n % 5000,
            "currency": "gbp", "customer_details": {
                "email": f"donor{n}@example.org" if email else None, "name": f"Donor {n}"},
            "metadata": {"campaign": campaign, "city": city},
            "mode": "payment", "payment_intent": f"pi_{uuid.uuid4().hex[:24]}",
            "payment_status": "paid", "status": "complete", "created": now}},
    }, separators=(",", ":")).encode()


def stripe_signature(body: bytes, secret: str = STRIPE_SECRET) -> str:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"
