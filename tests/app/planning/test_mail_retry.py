"""Mail while SMTP is down, then up: queued in the outbox, retried with exponential back-off
(capped; attempts, next attempt and last error kept per message), sent exactly once, also by
two processes at the same moment. A real SMTP server (aiosmtpd) on a real port throughout."""
from __future__ import annotations

import datetime as dt
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from tests.conftest import make_app
from tests.hub_support import login
from twestival.extensions import db
from twestival.mail import (
    BACKOFF_CAP,
    MAX_ATTEMPTS,
    RETRY_AFTER,
    OutboxMessage,
    backoff,
    retry_unsent,
    send_mail,
    settle,
)

from .conftest import Inbox, free_port

ROOT = Path(__file__).resolve().parents[3]


def rows(app) -> list[OutboxMessage]:
    with app.app_context():
        found = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return found


@pytest.fixture
def down_then_up(database_url):
    """An app whose SMTP port has no server yet; ``up()`` starts a real one on that port."""
    port = free_port()
    app = make_app(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                   MAIL_FROM="hub@twestival.test")
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    started = []

    def up():
        controller.start()
        started.append(controller)
    yield app, inbox, up
    for c in started:
        c.stop()
    app.extensions["twestival.live"].stop()
    with app.app_context():
        db.engine.dispose()


def queue(app, count, prefix="Note"):
    with app.app_context():
        for n in range(count):
            send_mail(db.session, f"person{n}@example.org", f"{prefix} {n}", "Body")
        db.session.commit()


def test_backoff_doubles_from_a_minute_to_its_cap():
    waits = [backoff(n) for n in range(1, 12)]
    assert waits[:4] == [RETRY_AFTER, 2 * RETRY_AFTER, 4 * RETRY_AFTER, 8 * RETRY_AFTER]
    assert max(waits) == BACKOFF_CAP and waits[-1] == BACKOFF_CAP
    assert all(a <= b for a, b in itertools.pairwise(waits))


def test_down_then_up_backs_off_and_sends_each_message_once(down_then_up):
    app, inbox, up = down_then_up
    queue(app, 5)
    settle()                                  # the after-commit sender found the server down
    first = rows(app)
    assert all(r.sent_at is None and r.attempts == 1 for r in first)
    assert all("Connection refused" in r.error or "Errno" in r.error for r in first)
    for r in first:                           # one minute after the failure
        assert r.next_attempt_at - r.created_at >= RETRY_AFTER

    with app.app_context():                   # before the back-off is over: not tried again
        early = min(r.next_attempt_at for r in first) - dt.timedelta(seconds=1)
        assert retry_unsent(db.engine, early) == 0
    assert [r.attempts for r in rows(app)] == [1] * 5

    with app.app_context():                   # due, still down: the wait doubles
        due = max(r.next_attempt_at for r in first) + dt.timedelta(seconds=1)
        assert retry_unsent(db.engine, due) == 0
    second = rows(app)
    assert [r.attempts for r in second] == [2] * 5
    for before, after in zip(first, second):
        assert after.next_attempt_at - before.next_attempt_at >= RETRY_AFTER   # ~2 min later
        assert after.error

    up()
    with app.app_context():
        due = max(r.next_attempt_at for r in second) + dt.timedelta(seconds=1)
        assert retry_unsent(db.engine, due) == 5
        assert retry_unsent(db.engine, due + BACKOFF_CAP) == 0   # sent rows are never sent again
    assert sorted(m["subject"] for m in inbox.messages) == [f"Note {n}" for n in range(5)]
    assert all(r.sent_at and r.error is None and r.next_attempt_at is None and r.attempts == 3
               for r in rows(app))


def test_a_message_stops_after_its_last_attempt(down_then_up):
    app, _inbox, _up = down_then_up
    queue(app, 1)
    settle()
    with app.app_context():
        for _ in range(MAX_ATTEMPTS + 2):
            [row] = rows(app)
            retry_unsent(db.engine, (row.next_attempt_at or row.created_at) + BACKOFF_CAP)
    [row] = rows(app)
    assert row.attempts == MAX_ATTEMPTS and row.sent_at is None and row.error


def test_two_processes_send_each_message_exactly_once(down_then_up, database_url):
    app, inbox, up = down_then_up
    quiet = make_app(database_url)        # no mail server: the mail waits in the outbox
    try:
        queue(quiet, 40, prefix="Race")
    finally:
        quiet.extensions["twestival.live"].stop()
        with quiet.app_context():
            db.engine.dispose()
    up()
    port = str(app.config["MAIL_PORT"])
    when = (dt.datetime.now(dt.UTC) + 2 * RETRY_AFTER).isoformat()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    senders = [subprocess.Popen([sys.executable, "-m", "tests.mail_sender", database_url, port,
                                 when], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [s.communicate(timeout=120) for s in senders]
    assert all(s.returncode == 0 for s in senders), results
    counts = [int(out.strip().splitlines()[-1]) for out, _err in results]
    assert sum(counts) == 40
    subjects = sorted(m["subject"] for m in inbox.messages)
    assert subjects == sorted(f"Race {n}" for n in range(40))      # each once, none twice
    assert all(r.sent_at and r.attempts == 1 for r in rows(app))


def test_the_outbox_page_shows_attempts_next_try_and_last_error(down_then_up, seed_people):
    app, _inbox, _up = down_then_up
    with app.app_context():
        send_mail(db.session, "coord@example.org", "Venue booked?", "Body")
        db.session.commit()
    settle()
    client = app.test_client()
    login(client, "coord@example.org")
    html = client.get("/coordinate/tw/outbox").get_data(as_text=True)
    assert "attempt 1 of 10" in html and "next attempt" in html
    assert "Connection refused" in html or "Errno" in html


@pytest.fixture
def seed_people(down_then_up):
    from tests.hub_support import person
    from twestival.campaigns.service import create_campaign
    app, _inbox, _up = down_then_up
    with app.app_context():
        create_campaign(db.session, "tw", name="Twestival Test", currency="GBP")
        db.session.commit()
    from twestival.accounts.models import Role
    person(app, "coord@example.org", Role.coordinator)
