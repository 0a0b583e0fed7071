"""Planning fixtures: people in the seeded campaign (signing in: ``tests.hub_support``), a real
SMTP server."""
from __future__ import annotations

import socket
import threading

import pytest
from aiosmtpd.controller import Controller

from twestival.accounts.models import Role
from twestival.accounts.service import create_user, grant, set_password
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db

from tests.hub_support import PASSWORD, login

PEOPLE = {
    # key: (email, role, city)
    "coordinator": ("coord@example.org", Role.coordinator, None),
    "london": ("ada@example.org", Role.organiser, "london"),
    "london2": ("grace@example.org", Role.organiser, "london"),
    "tokyo": ("yuki@example.org", Role.organiser, "tokyo"),
    "volunteer": ("vol@example.org", Role.volunteer, "london"),
}


def add_people(session, campaign) -> dict[str, str]:
    """PEOPLE in ``campaign``, each able to sign in with ``PASSWORD``; their email by key."""
    for key, (email, role, city) in PEOPLE.items():
        user = create_user(session, email, name=key.capitalize())
        set_password(user, PASSWORD)
        grant(session, user, role, campaign, get_city(session, campaign, city) if city else None)
    return {key: email for key, (email, _r, _c) in PEOPLE.items()}


@pytest.fixture
def people(app, seed):
    """Email of each person by key; the campaign 'tw' has them as PEOPLE says."""
    with app.app_context():
        emails = add_people(db.session, get_campaign(db.session, seed))
        db.session.commit()
    return emails


@pytest.fixture
def as_user(client):
    def sign_in(email: str):
        login(client, email)
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
