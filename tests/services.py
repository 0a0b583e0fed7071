"""Real outside services for tests: PostgreSQL databases, Redis servers, app processes.

Without the service the test is skipped with the reason; in CI (``CI=true``) a missing service
is a failure instead, so a broken CI set-up cannot pass by skipping.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent


def unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the services are required there)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# --- PostgreSQL -----------------------------------------------------------------------------

def postgres_admin_url() -> str:
    """TWESTIVAL_TEST_DATABASE_URL: a server where the tests may create and drop databases."""
    url = os.environ.get("TWESTIVAL_TEST_DATABASE_URL")
    if not url:
        unavailable("PostgreSQL tests need TWESTIVAL_TEST_DATABASE_URL")
    return url


def _libpq(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def app_url(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url
    return make_url(url).set(drivername="postgresql+psycopg", database=database) \
        .render_as_string(hide_password=False)


class Postgres:
    """Creates databases on the test server (a template copy is fast: CREATE ... TEMPLATE)."""

    def __init__(self, admin_url: str):
        import psycopg
        self.admin_url = admin_url
        try:
            self.conn = psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            unavailable(f"PostgreSQL at TWESTIVAL_TEST_DATABASE_URL does not answer: {exc}")

    def create(self, template: str | None = None, prefix: str = "twestival_test") -> str:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        suffix = f" TEMPLATE {template}" if template else ""
        self.conn.execute(f'CREATE DATABASE "{name}"{suffix}')
        return name

    def drop(self, name: str) -> None:
        self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str) -> str:
        return app_url(self.admin_url, name)

    def close(self) -> None:
        self.conn.close()


# --- Redis ----------------------------------------------------------------------------------

def redis_url() -> str:
    url = os.environ.get("TWESTIVAL_TEST_REDIS_URL")
    if not url:
        unavailable("Redis tests need TWESTIVAL_TEST_REDIS_URL")
    import redis
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis at TWESTIVAL_TEST_REDIS_URL does not answer: {exc}")
    return url


class RedisServer:
    """A private redis-server that a test may stop and start again on the same port."""

    def __init__(self, tmp_path: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            unavailable("redis-server is not installed")
        self.port = free_port()
        self.dir = tmp_path
        self.process: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


# --- app processes --------------------------------------------------------------------------

class AppProcess:
    """``gunicorn -k gevent -w 1 twestival.wsgi:app`` on a free loopback port, as the docs say
    production runs it."""

    def __init__(self, env: dict, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", "1",
             "--no-control-socket", "-b", f"127.0.0.1:{self.port}", "twestival.wsgi:app"],
            cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(timeout=60)
        except AssertionError:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        """Until the worker answers HTTP (gunicorn binds the port before the worker boots)."""
        import urllib.error
        import urllib.request
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the app process exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=5).close()
                return
            except urllib.error.HTTPError:
                return  # it answers (503: a service it checks is down, which a test may want)
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"the app on {self.base} did not answer within {timeout}s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
