"""SQLite's WAL checkpoints off the request path, for serving processes.

By default SQLite copies the write-ahead log back into the database file whenever a commit
takes the log past ~1,000 pages (``wal_autocheckpoint``), inside that commit: the request
waits for the copy and its fsync (tens of milliseconds on a VM), and under gevent so does
every other request of the process. Measured on the webhook path that is most of the slowest
1 % of answers. A serving process turns that off and checkpoints from an OS thread of its own
instead (SQLite releases the GIL while it copies, so the gevent loop goes on), PASSIVE: it
never waits for, or blocks, readers and writers. Other processes on the same file (an import
command, say) keep SQLite's own checkpoints.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable

from sqlalchemy import Engine

from .database import CHECKPOINTED

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 0.5


def _original(module: str, name: str):
    """The unpatched function: under gevent, ``threading`` would give a greenlet, which SQLite's
    copy would block with the whole process."""
    from gevent import monkey
    return monkey.get_original(module, name)


def start(engine: Engine, interval: float = INTERVAL_SECONDS) -> Callable[[], None] | None:
    """Checkpoint ``engine``'s SQLite file from a background thread. Returns what stops it,
    or None when the database is not a SQLite file."""
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:" or path.startswith("file:"):
        return None
    stopped: list[bool] = []
    CHECKPOINTED.add(engine)   # its connections turn SQLite's own checkpoints off
    engine.dispose()  # connections opened before this would still checkpoint in their commits

    def spawn():
        _original("_thread", "start_new_thread")(_run, (path, interval, stopped))
    spawn()
    # A thread does not survive fork (gunicorn --preload forks workers from a loaded app): the
    # child starts its own, or its log would grow without end.
    os.register_at_fork(after_in_child=spawn)

    def stop():
        stopped.append(True)
        CHECKPOINTED.discard(engine)
    return stop


def _run(path: str, interval: float, stopped: list[bool]) -> None:
    sleep = _original("time", "sleep")
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    while not stopped:
        sleep(interval)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # another process's checkpoint under way: next time
            log.debug("checkpoint skipped: %s", exc)
    connection.close()
