"""Reminders: in each city's local morning, each exactly once across restarts and processes."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import make_app
from twestival.accounts.models import Role
from twestival.accounts.service import create_user, find_user, grant
from twestival.campaigns.service import add_city, get_campaign, get_city
from twestival.extensions import db
from twestival.mail import OutboxMessage
from twestival.planning import timeline
from twestival.planning.models import ReminderSent
from twestival.planning.reminders import period
from twestival.planning.scheduler import reminders_job, start, stop

UTC = dt.timezone.utc
DUE = dt.date(2027, 2, 1)          # "Venue booked", two weeks before the event on 2027-02-15
ORGANISERS = {"london": "ada@example.org", "tokyo": "yuki@example.org",
              "los-angeles": "lou@example.org"}


@pytest.fixture
def planned(app, seed):
    """London, Tokyo and Los Angeles, one organiser each, one milestone due on 2027-02-01."""
    with app.app_context():
        campaign = get_campaign(db.session, seed)
        campaign.event_date = dt.date(2027, 2, 15)
        add_city(db.session, campaign, "los-angeles", name="Los Angeles", country="US",
                 currency="USD", timezone="America/Los_Angeles", target="1000.00")
        for city, email in ORGANISERS.items():
            grant(db.session, create_user(db.session, email, name=city.title()), Role.organiser,
                  campaign, get_city(db.session, campaign, city))
        timeline.add_milestone(db.session, campaign, title="Venue booked", days_before=14)
        db.session.commit()
    return seed


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def reminder_mail(app) -> Counter:
    """(recipient, subject) → how many times it is in the outbox."""
    with app.app_context():
        return Counter((m.to_addr, m.subject) for m in db.session.scalars(select(OutboxMessage)))


def recipients(app) -> set[str]:
    return {to for to, _subject in reminder_mail(app)}


def run_at(app, moment: dt.datetime) -> int:
    """The scheduled job itself, with the clock moved (it reads the time like production)."""
    with time_machine.travel(moment, tick=False):
        return reminders_job(app)


def test_reminders_go_out_in_each_city_local_morning(app, planned):
    # 22:59 UTC on 31 Jan: 07:59 on 1 Feb in Tokyo, still 31 Jan in London and Los Angeles.
    assert run_at(app, at(2027, 1, 31, 22, 59)) == 0
    # 23:00 UTC: 08:00 in Tokyo on the due date. London (23:00, 31 Jan) is not due yet.
    assert run_at(app, at(2027, 1, 31, 23, 0)) == 1
    assert recipients(app) == {ORGANISERS["tokyo"]}
    # 00:30 UTC on 1 Feb: London's date is the due date but it is the middle of its night.
    assert run_at(app, at(2027, 2, 1, 0, 30)) == 0
    assert run_at(app, at(2027, 2, 1, 7, 59)) == 0
    assert run_at(app, at(2027, 2, 1, 8, 0)) == 1
    assert recipients(app) == {ORGANISERS["tokyo"], ORGANISERS["london"]}
    # Los Angeles: 15:59 UTC is 07:59 PST; 16:00 UTC is its 08:00.
    assert run_at(app, at(2027, 2, 1, 15, 59)) == 0
    assert run_at(app, at(2027, 2, 1, 16, 0)) == 1
    assert reminder_mail(app) == Counter({
        (ORGANISERS[c], f"[Twestival Test] {name}: Venue booked is due today"): 1
        for c, name in (("tokyo", "Tokyo"), ("london", "London"), ("los-angeles", "Los Angeles"))})
    with app.app_context():
        body = db.session.scalar(select(OutboxMessage.body).where(
            OutboxMessage.to_addr == ORGANISERS["tokyo"]))
    assert "Venue booked: due today (due 2027-02-01)" in body
    assert "http://localhost/organise/tw/tokyo/checklist" in body


def test_each_reminder_once_across_restarts_then_weekly_while_overdue(app, db_path, planned):
    assert run_at(app, at(2027, 2, 1, 9, 0)) == 2          # London and Tokyo (LA asleep)
    restarted = make_app(db_path)                           # a new process on the same database
    try:
        assert run_at(restarted, at(2027, 2, 1, 9, 15)) == 0
        assert run_at(restarted, at(2027, 2, 1, 16, 0)) == 1    # LA's morning, once
        assert run_at(restarted, at(2027, 2, 3, 9, 0)) == 0     # still the same week
        with restarted.app_context():                      # Tokyo ticks it off
            campaign = get_campaign(db.session, "tw")
            timeline.set_done(db.session, campaign, get_city(db.session, campaign, "tokyo"),
                              timeline.milestones(db.session, campaign)[0].id,
                              find_user(db.session, ORGANISERS["tokyo"]), True)
            db.session.commit()
        # A week late: London and LA are reminded again (LA at its morning), Tokyo is done.
        assert run_at(restarted, at(2027, 2, 8, 9, 0)) == 1
        assert run_at(app, at(2027, 2, 8, 17, 0)) == 1
        assert run_at(restarted, at(2027, 2, 9, 17, 0)) == 0
    finally:
        restarted.extensions["twestival.live"].stop()
        with restarted.app_context():
            db.engine.dispose()
    per_person = Counter(to for to, _s in reminder_mail(app).elements())
    assert per_person == {ORGANISERS["london"]: 2, ORGANISERS["los-angeles"]: 2,
                          ORGANISERS["tokyo"]: 1}
    with app.app_context():
        kinds = Counter(r.kind for r in db.session.scalars(select(ReminderSent)))
    assert kinds == {"due": 3, "overdue": 2}


def test_reminder_periods():
    assert period(DUE, DUE - dt.timedelta(days=1)) is None
    assert period(DUE, DUE) == ("due", DUE)
    assert period(DUE, DUE + dt.timedelta(days=6)) == ("due", DUE)      # a missed morning catches up
    assert period(DUE, DUE + dt.timedelta(days=7)) == ("overdue", DUE + dt.timedelta(days=7))
    assert period(DUE, DUE + dt.timedelta(days=20)) == ("overdue", DUE + dt.timedelta(days=14))
    assert period(DUE, DUE + dt.timedelta(days=29)) is None


def test_no_reminder_for_done_items_cities_without_organisers_or_undated_campaigns(app, seed):
    with app.app_context():
        campaign = get_campaign(db.session, seed)
        step_id = timeline.add_milestone(db.session, campaign, title="Venue booked",
                                         days_before=14).id
        db.session.commit()
    assert run_at(app, at(2027, 2, 1, 12, 0)) == 0           # no event date yet
    with app.app_context():
        campaign = get_campaign(db.session, seed)
        campaign.event_date = dt.date(2027, 2, 15)
        db.session.commit()
    assert run_at(app, at(2027, 2, 1, 12, 0)) == 0           # nobody organises any city yet
    with app.app_context():
        campaign = get_campaign(db.session, seed)
        london = get_city(db.session, campaign, "london")
        ada = create_user(db.session, "ada@example.org", name="Ada")
        grant(db.session, ada, Role.organiser, campaign, london)
        timeline.set_done(db.session, campaign, london, step_id, ada, True)
        db.session.commit()
    assert run_at(app, at(2027, 2, 1, 12, 0)) == 0           # done: nothing to remind
    assert reminder_mail(app) == Counter()


def _subprocess_env(db_path, port):
    env = dict(os.environ, TWESTIVAL_DATABASE_URL=f"sqlite:///{db_path}",
               TWESTIVAL_SECRET_KEY="test-secret", TWESTIVAL_BASE_URL="http://localhost",
               TWESTIVAL_MAIL_SERVER="127.0.0.1", TWESTIVAL_MAIL_PORT=str(port))
    return env


def _twestival() -> str:
    return str(Path(sys.executable).with_name("twestival"))


def test_two_processes_at_once_send_each_reminder_once(db_path, planned, smtp_server):
    inbox, port = smtp_server
    apps = [make_app(db_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port) for _ in range(2)]
    try:
        # Two app instances (two schedulers) race on the same SQLite file.
        moment = at(2027, 2, 1, 9, 0)
        barrier = threading.Barrier(len(apps))
        results, errors = [], []

        def job(app):
            try:
                barrier.wait()
                results.append(reminders_job(app, moment))
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=job, args=(a,)) for a in apps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results) == [0, 2]

        # A real second process (the cron command) and an in-process run, a week later, at once.
        later = at(2027, 2, 8, 23, 0)     # 08:00 in Tokyo, 23:00 London, 15:00 LA
        process = subprocess.Popen(
            [_twestival(), "reminders", "run", "--now", later.isoformat()],
            env=_subprocess_env(db_path, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        here = reminders_job(apps[0], later)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        there = int(out.split()[0])
        assert here + there == 3                          # London, Tokyo and LA, overdue
        # And the subprocess alone again: nothing left to send.
        again = subprocess.run([_twestival(), "reminders", "run", "--now", later.isoformat()],
                               env=_subprocess_env(db_path, port), capture_output=True,
                               text=True, timeout=120)
        assert again.returncode == 0 and again.stdout.strip() == "0 reminders sent"
    finally:
        for app in apps:
            app.extensions["twestival.live"].stop()
            with app.app_context():
                db.engine.dispose()

    delivered = Counter((m["to"][0], m["subject"]) for m in inbox.messages)
    assert all(count == 1 for count in delivered.values()), delivered
    assert ((ORGANISERS["tokyo"], "[Twestival Test] Tokyo: Venue booked is overdue by 8 days")
            in delivered)
    assert Counter(to for to, _s in delivered) == {
        ORGANISERS["london"]: 2, ORGANISERS["tokyo"]: 2, ORGANISERS["los-angeles"]: 1}
    outbox = reminder_mail(apps[0])
    assert all(count == 1 for count in outbox.values())
    assert sum(outbox.values()) == 5


def test_cli_reminders_run(runner, planned):
    result = runner.invoke(args=["reminders", "run", "--now", "2027-02-01T09:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "2 reminders sent"
    result = runner.invoke(args=["reminders", "run", "--now", "2027-02-01T09:00:00"])
    assert result.exit_code == 2 and "offset" in result.output
    result = runner.invoke(args=["reminders", "run", "--now", "yesterday"])
    assert result.exit_code == 2


def test_cli_default_timeline(runner, seed):
    result = runner.invoke(args=["timeline", "default", "tw"])
    assert result.exit_code == 0 and "7 milestones" in result.output
    result = runner.invoke(args=["timeline", "default", "tw"])
    assert result.exit_code == 2 and "already has a timeline" in result.output


def test_scheduler_off_runs_nothing(db_path, planned):
    app = make_app(db_path, SCHEDULER="off")
    try:
        assert start(app) is None
        assert "twestival.scheduler" not in app.extensions
    finally:
        app.extensions["twestival.live"].stop()


def test_scheduler_starts_jobs_and_runs_reminders_at_once(app, planned):
    with time_machine.travel(at(2027, 2, 1, 9, 0), tick=False):
        scheduler = start(app)
        try:
            assert start(app) is scheduler                   # once per app
            jobs = {job.id: job for job in scheduler.get_jobs()}
            assert set(jobs) == {"reminders", "mail-retry"}
            assert jobs["reminders"].trigger.interval == dt.timedelta(minutes=15)
            # The first reminder run starts at once, in the scheduler's thread.
            deadline = time.monotonic() + 10
            while not reminder_mail(app) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop(app)
    assert sum(reminder_mail(app).values()) == 2
    assert not scheduler.running
