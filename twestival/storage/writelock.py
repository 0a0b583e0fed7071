"""SQLite's one write lock: waiting for it, and letting the writers that wait for it in.

SQLite's writers do not queue. One that finds the lock taken polls for it; a long job that
writes in many short transactions (an import) would, by beginning its next transaction at once,
leave the lock free for only microseconds, and a poller would rarely get in. So a writer that
finds the lock taken says so by touching a file beside the database (its modification time is
the signal), and the long job, after each commit, leaves the lock free for one turn when that
time has moved: a webhook waits for at most the chunk in progress, and an import that nobody
waits for does not sleep at all. PostgreSQL has no such lock: nothing here applies to it.
"""
from __future__ import annotations

import os
import sqlite3
import time

# The longest a waiting writer sleeps between tries.
POLL_MAX_SECONDS = 0.002
# How long a long job leaves the lock free when someone waits: a few of a waiter's tries.
TURN_SECONDS = 0.005


def flag_path(database: str | None) -> str | None:
    """The file waiting writers touch, for a SQLite database file (None: in memory)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + "-waiting"


def _note_waiting(flag: str | None) -> None:
    if flag is None:
        return
    try:
        os.utime(flag)
    except FileNotFoundError:
        try:
            with open(flag, "ab"):
                pass
        except OSError:
            pass
    except OSError:   # a signal, not a requirement: the waiter still waits
        pass


def begin_immediate(dbapi_connection: sqlite3.Connection, timeout_ms: int,
                    flag: str | None) -> bool:
    """BEGIN IMMEDIATE, waiting up to ``timeout_ms`` for the write lock with ``time.sleep``
    (under gevent, patched: the process goes on serving meanwhile) and signalling the wait.
    The connection's own busy timeout must be 0 here. False when the time ran out or the
    error was another (the caller's last try raises it as its driver would)."""
    deadline = time.monotonic() + timeout_ms / 1000
    pause = 0.0002
    while True:
        try:
            dbapi_connection.execute("BEGIN IMMEDIATE")
            return True
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                return False
        if time.monotonic() >= deadline:
            return False
        _note_waiting(flag)
        time.sleep(pause)
        pause = min(pause * 2, POLL_MAX_SECONDS)


class Turns:
    """For a job that commits many short write transactions one after another: ``after_commit``
    leaves the lock free for a turn when a writer has been waiting since the last call."""

    def __init__(self, flag: str | None):
        self.flag = flag
        self._seen = self._stamp()

    @classmethod
    def of(cls, engine) -> Turns:
        """For a SQLAlchemy engine (on PostgreSQL: turns that never wait)."""
        sqlite = engine.dialect.name == "sqlite"
        return cls(flag_path(engine.url.database) if sqlite else None)

    def _stamp(self) -> int | None:
        try:
            return os.stat(self.flag).st_mtime_ns if self.flag else None
        except OSError:
            return None

    def after_commit(self) -> None:
        if self.flag is None:
            return
        stamp = self._stamp()
        if stamp != self._seen:
            self._seen = stamp
            time.sleep(TURN_SECONDS)
