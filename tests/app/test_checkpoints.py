"""Serving processes checkpoint SQLite's write-ahead log from a thread of their own, so no
request's commit waits for the copy into the database file."""
from __future__ import annotations

import sqlite3
import time

from twestival.storage import checkpoints
from twestival.extensions import db


def in_database_file(path) -> list[str]:
    """Campaign slugs in the database file itself, ignoring the write-ahead log."""
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT slug FROM campaign")]
    finally:
        connection.close()


def test_commits_reach_the_database_file_through_the_background_checkpoint(app, db_path, seed):
    time.sleep(1.0)
    assert in_database_file(db_path) == []   # by itself SQLite leaves a small log alone
    with app.app_context():
        stop = checkpoints.start(db.engine, interval=0.05)
        try:
            assert db.session.execute(db.text("PRAGMA wal_autocheckpoint")).scalar() == 0
            deadline = time.monotonic() + 5
            while in_database_file(db_path) != ["tw"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert in_database_file(db_path) == ["tw"]
        finally:
            stop()
            db.session.rollback()


def test_only_a_sqlite_file_gets_a_checkpointer(tmp_path):
    from sqlalchemy import create_engine
    assert checkpoints.start(create_engine("sqlite://")) is None
    assert checkpoints.start(create_engine("postgresql+psycopg://u@localhost/db")) is None
