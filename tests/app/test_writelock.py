"""SQLite's one write lock during a long import: a writer that waits for it (a webhook) is let
in between the import's chunks, within about one chunk, although the import does not pause
between chunks when nobody waits (twestival.storage.writelock)."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from twestival.extensions import db
from twestival.ledger import LedgerEntry
from twestival.streams.files import run as importing

from tests.imports_helpers import run_import
from tests.payments import checkout_event, payments_app, post_stripe
from .test_imports_large import eventbrite_rows, write

ORDERS = 30_000            # 60 chunks
WEBHOOKS = 5


def imported_before(app, entry_id: int | None = None) -> int:
    """Import entries committed so far (before the entry ``entry_id``, when given)."""
    with app.app_context():
        query = select(func.count()).select_from(LedgerEntry).where(LedgerEntry.stream != "stripe")
        if entry_id is not None:
            query = query.where(LedgerEntry.id < entry_id)
        count = db.session.scalar(query)
        db.session.rollback()
        return count


def stripe_entry_id(app, session_id: str) -> int:
    with app.app_context():
        entry_id = db.session.scalar(select(LedgerEntry.id).where(
            LedgerEntry.stream == "stripe", LedgerEntry.external_id.contains(session_id)))
        db.session.rollback()
        return entry_id


def test_a_webhook_waiting_during_an_import_gets_in_within_a_chunk_or_two(db_path, seed,
                                                                          tmp_path):
    app = next(payments_app(db_path))
    path = write(tmp_path / "long.csv", eventbrite_rows(1, ORDERS))
    done = threading.Event()
    failure: list[BaseException] = []

    def import_it():
        try:
            run_import(app, path, "eventbrite", city="london")
        except BaseException as exc:   # the assertion below says so
            failure.append(exc)
        finally:
            done.set()

    importer = threading.Thread(target=import_it)
    importer.start()
    try:
        while imported_before(app) == 0 and not done.is_set():   # recording has begun
            threading.Event().wait(0.005)
        waits = []
        for n in range(WEBHOOKS):
            before = imported_before(app)
            response = post_stripe(app.test_client(),
                                   checkout_event(f"cs_wait{n}", f"pi_wait{n}", 1000 + n))
            assert response.status_code == 200, response.get_json()
            waits.append(imported_before(app, stripe_entry_id(app, f"cs_wait{n}")) - before)
        assert not done.is_set(), "the import ended before the webhooks were posted"
    finally:
        importer.join(120)
    assert not failure, failure
    total = imported_before(app)
    assert total > ORDERS - 1   # every order, and refunds besides
    # Each webhook waited for the chunk in progress (and, should it have begun waiting just as
    # that chunk ended or been slow to wake, the next one or two), never for the rest of the
    # import. A chunk is CHUNK_ROWS attendee rows (at most as many orders), and a refund
    # entry for one attendee in 97.
    chunk = importing.CHUNK_ROWS * 1.05
    assert all(wait <= 3 * chunk for wait in waits), (waits, total)
