"""A webhook whose archive committed, and whose processing then finds the database locked by
another writer: 503 with Retry-After (so the provider retries), the delivery kept in the
archive (marked when the database lets us), and the retry counted exactly once.

The lock is real: a second sqlite3 connection takes it (BEGIN IMMEDIATE) the moment the
archive's commit has finished, so it is the processing transaction that waits out the app's
(short) busy timeout and fails.
"""
from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, select

from tests.payments import board, checkout_event, payments_app, post_stripe, reconcile_ok
from twestival.extensions import db
from twestival.ledger import LedgerEntry
from twestival.streams.inbox.archive import InboundPayload


class Blocker:
    """Another writer on the same database file."""

    def __init__(self, path):
        self.connection = sqlite3.connect(path, isolation_level=None, timeout=5)
        self.holding = False
        self.taken = 0

    def take(self):
        self.connection.execute("BEGIN IMMEDIATE")
        self.holding = True
        self.taken += 1

    def release(self):
        if self.holding:
            self.connection.execute("ROLLBACK")
            self.holding = False

    def close(self):
        self.release()
        self.connection.close()


def archived(app):
    with app.app_context():
        rows = [(p.status, p.error, p.external_id) for p in db.session.scalars(
            select(InboundPayload).where(InboundPayload.stream == "stripe")
            .order_by(InboundPayload.id))]
        db.session.rollback()
        return rows


def ledger_rows(app):
    with app.app_context():
        count = len(db.session.scalars(select(LedgerEntry.id)).all())
        db.session.rollback()
        return count


@pytest.mark.parametrize("writer_finishes", [True, False],
                         ids=["lock-released-after-the-failure", "lock-held-throughout"])
def test_locked_after_the_archive_commit_answers_503_and_the_retry_counts_once(
        db_path, seed, writer_finishes):
    app = next(payments_app(db_path, SQLITE_BUSY_TIMEOUT_MS=100))
    client, runner = app.test_client(), app.test_cli_runner()
    event_ = checkout_event("cs_locked", "pi_locked", 1500)
    blocker = Blocker(db_path)

    def lock_after_the_archive(_session):
        if blocker.taken == 0:
            blocker.take()  # the archive is committed; now another writer holds the lock

    def writer_done(context):
        if writer_finishes and "locked" in str(context.original_exception):
            blocker.release()  # the other writer finishes after our processing gave up

    with app.app_context():
        event.listen(db.session, "after_commit", lock_after_the_archive)
        event.listen(db.engine, "handle_error", writer_done)
    try:
        response = post_stripe(client, event_)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert "busy" in response.get_json()["error"]
        assert blocker.taken == 1
    finally:
        with app.app_context():
            event.remove(db.session, "after_commit", lock_after_the_archive)
            event.remove(db.engine, "handle_error", writer_done)
        blocker.close()

    # The delivery is in the archive, verbatim, and nothing reached the ledger.
    (status, error, external_id), = archived(app)
    assert external_id == event_["id"]
    if writer_finishes:
        assert status == "failed" and "busy" in error  # marked for the provider's retry
    else:
        assert status == "received"  # the mark could not be written either; the row stays
    assert ledger_rows(app) == 0
    assert board(client)["by_city"]["london"]["raised_minor"] == 0

    assert post_stripe(client, event_).status_code == 200  # Stripe's retry
    assert post_stripe(client, event_).status_code == 200  # and a duplicate delivery
    assert board(client)["by_city"]["london"]["raised_minor"] == 1500
    assert ledger_rows(app) == 1
    statuses = [row[0] for row in archived(app)]
    assert statuses[0] == ("failed" if writer_finishes else "received")
    assert statuses[1:] == ["processed", "duplicate"]  # the duplicate is seen as one
    replayed = runner.invoke(args=["replay", "tw", "--stream", "stripe"])
    assert replayed.exit_code == 0 and "new ledger entries: 0" in replayed.output
    assert ledger_rows(app) == 1
    reconcile_ok(runner)
    app.extensions["twestival.live"].stop()
