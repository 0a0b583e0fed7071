"""Prometheus metrics for this process (exposed at ``GET /metrics``).

Metrics live in the process that counts them: with several app processes, Prometheus scrapes
each process on its own address (not through the load balancer) and sums the series. No Flask
here; the ledger and the live layer feed it through the hooks below.
"""
from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Iterator

from prometheus_client import (CONTENT_TYPE_LATEST, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)

from sqlalchemy.orm import Session

from .ledger.totals import RECORDED_KEY
from .storage import aftercommit

disable_created_metrics()  # the *_created series only double what Prometheus already knows

ENTRIES = Counter("twestival_ledger_entries", "Ledger entries committed, per stream and kind "
                  "(kind=\"donation\" counts donations)", ["stream", "kind"])
WEBHOOK_SECONDS = Histogram(
    "twestival_webhook_seconds", "Time to handle one webhook delivery, per stream and outcome",
    ["stream", "outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
WATCHERS = Gauge("twestival_live_watchers", "Socket.IO clients connected to /live in this process")
PUSHES = Counter("twestival_live_pushes", "leaderboard_update messages handed to Socket.IO")
PUSH_FAILURES = Counter("twestival_live_push_failures",
                        "leaderboard_update pushes that failed and were kept for a retry")
PUSH_SECONDS = Histogram(
    "twestival_live_push_seconds", "One live push: from taking a campaign's changes to the last "
    "message handed to Socket.IO (the board read, the seq, the fan-out in this process)",
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
WINDOWS_WAITED = Counter("twestival_live_windows_waited",
                         "Times a campaign's changes waited for its next update slot (the "
                         "LIVE_UPDATES_PER_SECOND cap, shared by every process with Redis)")


@contextlib.contextmanager
def observe_webhook(stream: str) -> Iterator[None]:
    """Time a webhook view's work: ``with observe_webhook("stripe"): ...``."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        WEBHOOK_SECONDS.labels(stream, outcome).observe(time.perf_counter() - started)


def exposition() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST


# The ledger tallies new entries per (stream, kind) on the session; they count only once committed.
def _count_entries(session: Session, recorded: collections.Counter) -> None:
    for (stream, kind), count in recorded.items():
        ENTRIES.labels(stream, kind).inc(count)


def listen() -> None:
    aftercommit.subscribe(RECORDED_KEY, _count_entries)
