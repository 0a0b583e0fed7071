"""SIGKILL in the middle of the night's work: the serving process during a burst of webhooks,
and an import half-way through its file. Everything is then delivered again, as providers
retry what was not acknowledged (and sometimes what was), and as an organiser imports the
file again: every gift is counted exactly once, and the totals agree with the entries."""
from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import make_app
from tests.payments import WEBHOOK_SECRET, checkout_event, stripe_signature
from tests.services import ROOT, free_port
from twestival.extensions import db

pytestmark = pytest.mark.services
GIFTS = 240
ORDERS = 40_000
CLI = [sys.executable, "-c", "from twestival.cli import main; main()"]


def _env(db_path) -> dict:
    return {**os.environ, "TWESTIVAL_DATABASE_URL": f"sqlite:///{db_path}",
            "TWESTIVAL_SECRET_KEY": "kill9", "TWESTIVAL_SCHEDULER": "off",
            "TWESTIVAL_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.fixture
def seeded(db_path):
    from twestival.campaigns.service import add_city, create_campaign
    app = make_app(db_path)
    with app.app_context():
        campaign = create_campaign(db.session, "tw", name="Twestival Test", currency="GBP")
        add_city(db.session, campaign, "london", name="London", country="GB", currency="GBP",
                 timezone="Europe/London", target="2500.00")
        db.session.commit()
        db.engine.dispose()
    app.extensions["twestival.live"].stop()
    return db_path


class Server:
    """``twestival run``: one process serving HTTP and websockets, as on a small night."""

    def __init__(self, db_path, log):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks/stripe"
        self.process = subprocess.Popen(CLI + ["run", "--port", str(self.port)], cwd=ROOT,
                                        env=_env(db_path), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).close()
                return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.1)
        raise AssertionError("the server did not answer")

    def deliver(self, body: bytes) -> bool:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Stripe-Signature": stripe_signature(body)})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status == 200
        except (OSError, urllib.error.HTTPError):
            return False

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def _count(db_path, stream: str) -> tuple[int, int]:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return conn.execute("SELECT count(*), coalesce(sum(amount_minor), 0) FROM ledger_entry "
                            "WHERE stream = ?", (stream,)).fetchone()


def _reconcile(db_path) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + ["reconcile", "tw"], cwd=ROOT, env=_env(db_path),
                          capture_output=True, text=True, timeout=120)


def test_a_server_killed_mid_burst_loses_and_doubles_nothing(seeded, tmp_path):
    bodies = [json.dumps(checkout_event(f"cs_k{n}", f"pi_k{n}", 100 + n)).encode()
              for n in range(GIFTS)]
    log = (tmp_path / "server.log").open("wb")
    server = Server(seeded, log)
    acknowledged: list[int] = []
    queue = list(range(GIFTS))
    lock = threading.Lock()

    def sender():
        while True:
            with lock:
                if not queue:
                    return
                n = queue.pop(0)
            if server.deliver(bodies[n]):
                with lock:
                    acknowledged.append(n)

    threads = [threading.Thread(target=sender) for _ in range(8)]
    for thread in threads:
        thread.start()
    while len(acknowledged) < GIFTS // 3:
        time.sleep(0.005)
    server.kill()
    for thread in threads:
        thread.join()
    assert GIFTS // 3 <= len(acknowledged) < GIFTS, "the kill did not land mid-burst"
    # Nothing acknowledged is lost, even before anything is delivered again.
    count, _ = _count(seeded, "stripe")
    assert count >= len(acknowledged)

    server = Server(seeded, log)
    try:
        assert all(server.deliver(body) for body in bodies)   # every one, acknowledged or not
    finally:
        server.kill()
    assert _count(seeded, "stripe") == (GIFTS, sum(100 + n for n in range(GIFTS)))
    result = _reconcile(seeded)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_killed_mid_file_counts_each_order_once_when_run_again(seeded, tmp_path):
    export = tmp_path / "orders.csv"
    with export.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["Order #", "Order Date", "Currency", "Total Paid", "Eventbrite Fees",
                      "Eventbrite Payment Processing", "Attendee #", "Attendee Status"])
        out.writerows([n, "02/12/26 18:30", "GBP", f"{5 + n % 20}.00", "0.50", "0.25", n,
                       "Attending"] for n in range(1, ORDERS + 1))
    command = CLI + ["import", "tw", str(export), "--format", "eventbrite", "--city", "london"]
    process = subprocess.Popen(command, cwd=ROOT, env=_env(seeded), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    while _count(seeded, "ticketing")[0] == 0:
        assert process.poll() is None, "the import ended before it recorded anything"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    part, _ = _count(seeded, "ticketing")
    assert 0 < part < ORDERS, "the kill did not land mid-file"

    again = subprocess.run(command, cwd=ROOT, env=_env(seeded), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    assert _count(seeded, "ticketing") == (ORDERS, sum((5 + n % 20) * 100
                                                       for n in range(1, ORDERS + 1)))
    result = _reconcile(seeded)
    assert result.returncode == 0, result.stdout + result.stderr
