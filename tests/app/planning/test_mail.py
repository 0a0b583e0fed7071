"""Mail: written to the outbox in the caller's transaction, delivered over real SMTP after commit."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from twestival.extensions import db
from twestival.mail import OutboxMessage, retry_unsent, send_mail, settle

from tests.hub_support import login
from .conftest import free_port


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return rows


def test_delivered_over_smtp_only_after_commit(mail_app, smtp_server):
    inbox, _port = smtp_server
    with mail_app.app_context():
        send_mail(db.session, "ada@example.org", "Venue booked?", "Please tick it off.")
        assert inbox.messages == []          # flushed, not committed: nothing leaves
        db.session.commit()
    settle()                                 # sent in the background, not in the request
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["to"] == ["ada@example.org"]
    assert message["from"] == "hub@twestival.test"
    assert message["subject"] == "Venue booked?"
    assert "Please tick it off." in message["body"]
    [row] = outbox(mail_app)
    assert row.sent_at is not None and row.error is None and row.attempts == 1


def test_rolled_back_mail_is_never_sent(mail_app, smtp_server):
    inbox, _port = smtp_server
    with mail_app.app_context():
        send_mail(db.session, "ada@example.org", "Never", "This transaction fails.")
        db.session.rollback()
        send_mail(db.session, "grace@example.org", "Later", "A later transaction commits.")
        db.session.commit()
    settle()
    assert [m["to"] for m in inbox.messages] == [["grace@example.org"]]
    assert [r.to_addr for r in outbox(mail_app)] == ["grace@example.org"]


def test_failed_send_keeps_error_and_is_retried_once(db_path, smtp_server):
    from tests.conftest import make_app
    inbox, port = smtp_server
    dead_port = free_port()                  # nobody listens here
    broken = make_app(db_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=dead_port)
    with broken.app_context():
        send_mail(db.session, "ada@example.org", "Retry me", "Body")
        db.session.commit()
    settle()
    [row] = outbox(broken)
    assert row.sent_at is None and "Connection" in row.error and row.attempts == 1

    fixed = make_app(db_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    with fixed.app_context():
        later = row.created_at + dt.timedelta(minutes=2)
        assert retry_unsent(db.engine, later) == 1
        assert retry_unsent(db.engine, later) == 0   # sent rows are never sent again
    assert [m["subject"] for m in inbox.messages] == ["Retry me"]
    [row] = outbox(fixed)
    assert row.sent_at is not None and row.error is None and row.attempts == 2
    for app in (broken, fixed):
        app.extensions["twestival.live"].stop()
        with app.app_context():
            db.engine.dispose()


def test_without_mail_server_mail_stays_in_outbox_for_coordinators(app, client, people):
    with app.app_context():
        send_mail(db.session, people["london"], "Hello <script>alert(1)</script>",
                  "<img src=x onerror=alert(1)>")
        send_mail(db.session, "stranger@elsewhere.org", "Not yours", "Thanks")
        db.session.commit()
    [first, second] = outbox(app)
    assert first.sent_at is None and first.error is None
    from tests.hub_support import APPLICATION, apply
    assert apply(app.test_client()).status_code in (200, 302)   # mails the applicant a receipt

    login(client, people["coordinator"])
    page = client.get("/coordinate/tw/outbox")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert people["london"] in html and APPLICATION["applicant_email"] in html
    assert "stranger@elsewhere.org" not in html and "Not yours" not in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_outbox_hides_mail_to_people_of_other_campaigns(app, client, people):
    from twestival.accounts.models import Role
    from twestival.accounts.service import create_user, grant
    from twestival.campaigns.service import create_campaign
    with app.app_context():
        other = create_campaign(db.session, "other", name="Other", currency="USD")
        grant(db.session, create_user(db.session, "them@other.org", name="Them"),
              Role.coordinator, other)
        send_mail(db.session, "them@other.org", "Private to other", "x")
        db.session.commit()
    login(client, people["coordinator"])
    assert "Private to other" not in client.get("/coordinate/tw/outbox").get_data(as_text=True)


def test_outbox_is_for_coordinators(app, client, people):
    assert client.get("/coordinate/tw/outbox").status_code == 302
    assert "/login" in client.get("/coordinate/tw/outbox").headers["Location"]
    for who in ("london", "volunteer"):
        login(client, people[who])
        assert client.get("/coordinate/tw/outbox").status_code == 403


def test_one_commit_many_messages_all_delivered(mail_app, smtp_server):
    inbox, _port = smtp_server
    with mail_app.app_context():
        for n in range(3):
            send_mail(db.session, f"person{n}@example.org", f"Note {n}", "Body")
        db.session.commit()
    settle()
    assert sorted(m["subject"] for m in inbox.messages) == ["Note 0", "Note 1", "Note 2"]
    assert all(row.sent_at is not None for row in outbox(mail_app))


def test_turning_smtp_on_later_sends_recent_outbox_mail_only(app, db_path, smtp_server):
    import time_machine
    from tests.conftest import make_app
    inbox, port = smtp_server
    now = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.timezone.utc)
    with app.app_context():                   # no mail server: kept in the outbox
        for age, subject in ((dt.timedelta(days=3), "Old news"), (dt.timedelta(hours=2), "Recent")):
            with time_machine.travel(now - age, tick=False):
                send_mail(db.session, "ada@example.org", subject, "Body")
                db.session.commit()
        assert retry_unsent(db.engine, now) == 0          # still no server: nothing to do
    with_smtp = make_app(db_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    try:
        with with_smtp.app_context():
            assert retry_unsent(db.engine, now) == 1
    finally:
        with_smtp.extensions["twestival.live"].stop()
        with with_smtp.app_context():
            db.engine.dispose()
    assert [m["subject"] for m in inbox.messages] == ["Recent"]


def test_send_mail_refuses_what_is_not_one_address(app):
    import pytest
    from twestival.errors import InvalidInput
    with app.app_context():
        for bad in ("", "nobody", "a@b.org\r\nBcc: all@b.org", "a@b.org, c@d.org"):
            with pytest.raises(InvalidInput):
                send_mail(db.session, bad, "Subject", "Body")
        send_mail(db.session, "a@b.org", "Line one\r\nBcc: x@y.org", "Body")
        db.session.commit()
    [row] = outbox(app)
    assert row.subject == "Line one Bcc: x@y.org"     # one header line, nothing injected


def test_commit_does_not_wait_for_a_slow_mail_server(db_path):
    """An announcement to hundreds must not hold up the request: the commit returns while
    the SMTP server has not even said hello."""
    import socket
    import threading
    from tests.conftest import make_app
    release = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def stalled_server():
        connection, _ = listener.accept()
        release.wait(30)
        connection.close()

    threading.Thread(target=stalled_server, daemon=True).start()
    app = make_app(db_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=listener.getsockname()[1])
    try:
        with app.app_context():
            send_mail(db.session, "ada@example.org", "Slow", "Body")
            db.session.commit()
        [row] = outbox(app)
        assert row.sent_at is None and row.error is None   # still being tried
        release.set()
        settle()
        [row] = outbox(app)
        assert row.sent_at is None and "SMTPServerDisconnected" in row.error
    finally:
        release.set()
        listener.close()
        app.extensions["twestival.live"].stop()
        with app.app_context():
            db.engine.dispose()
