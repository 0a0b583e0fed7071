"""Planning fixtures: people in the seeded campaign, signing in, CSRF tokens, a real SMTP server."""
from __future__ import annotations

import re
import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from twestival.accounts.models import Role
from twestival.accounts.service import create_user, grant
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db

PEOPLE = {
    # key: (email, role, city)
    "coordinator": ("coord@example.org", Role.coordinator, None),
    "london": ("ada@example.org", Role.organiser, "london"),
    "london2": ("grace@example.org", Role.organiser, "london"),
    "tokyo": ("yuki@example.org", Role.organiser, "tokyo"),
    "volunteer": ("vol@example.org", Role.volunteer, "london"),
}


@pytest.fixture
def people(app, seed):
    """Email of each person by key; the campaign 'tw' has them as PEOPLE says."""
    with app.app_context():
        campaign = get_campaign(db.session, seed)
        for key, (email, role, city) in PEOPLE.items():
            user = create_user(db.session, email, name=key.capitalize())
            grant(db.session, user, role, campaign, get_city(db.session, campaign, city) if city else None)
        db.session.commit()
    return {key: email for key, (email, _r, _c) in PEOPLE.items()}


def login(client, app, email: str) -> None:
    """Sign in as Flask-Login would after a correct password."""
    from twestival.accounts.service import find_user
    with app.app_context():
        session_id = find_user(db.session, email).get_id()   # carries the session epoch
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = session_id
        flask_session["_fresh"] = True


def csrf_token(client) -> str:
    """A valid CSRF token for this client's session (any form page will do)."""
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


@pytest.fixture
def as_user(client, app):
    def sign_in(email: str):
        login(client, app, email)
        return client
    return sign_in


class Inbox:
    """aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[dict] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        mail = message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "subject": mail["Subject"],
                                  "body": mail.get_payload(decode=True).decode()})
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[dict]:
        with self.lock:
            return [m for m in self.messages if address in m["to"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1; yields (inbox, port)."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def mail_app(db_path, smtp_server):
    """The app with TWESTIVAL_MAIL_SERVER pointing at the local SMTP server."""
    from tests.conftest import make_app
    _inbox, port = smtp_server
    app = make_app(db_path, MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_FROM="hub@twestival.test")
    yield app
    app.extensions["twestival.live"].stop()
    with app.app_context():
        db.engine.dispose()
