"""Helpers for the hub tests: people with roles, signing in through /login, CSRF tokens from
the page, and the mail outbox."""
from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from twestival.accounts.models import Role
from twestival.accounts.service import create_user, grant, set_password
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.mail import OutboxMessage

PASSWORD = "correct horse battery"


def person(app, email, role: Role | None, campaign="tw", city=None, name=None):
    with app.app_context():
        user = create_user(db.session, email, name=name or email.split("@")[0])
        set_password(user, PASSWORD)
        if role is not None:
            camp = get_campaign(db.session, campaign)
            grant(db.session, user, role, camp, get_city(db.session, camp, city) if city else None)
        db.session.commit()
        return user.id


def email_of(app, user_id: int) -> str:
    from twestival.accounts.models import User
    with app.app_context():
        return db.session.get(User, user_id).email


def csrf_token(client, path="/login") -> str:
    """The token ``path`` carries; a public page shown without a session carries none
    (web/pagecache.py), so then the sign-in page's, which starts the session."""
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    return found.group(1) if found else csrf_token(client, "/login")


def login(client, email, password=PASSWORD):
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def outbox(app, to=None) -> list[OutboxMessage]:
    with app.app_context():
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if to:
            query = query.where(OutboxMessage.to_addr == to)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def link_in(body: str, path_prefix: str) -> str:
    match = re.search(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"[^\s]*)", body)
    assert match, f"no {path_prefix} link in:\n{body}"
    return match.group(1)


def cash_body(**overrides) -> dict:
    body = {"key": str(uuid.uuid4()), "amount": "25.00", "currency": "GBP", "kind": "cash",
            "counted_by": "Ada", "witness": "Grace", "note": "door box"}
    body.update(overrides)
    return body


def post_cash(client, token, body, campaign="tw", city="london"):
    return client.post(f"/organise/{campaign}/{city}/cash", json=body,
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


APPLICATION = {
    "city_name": "Paris", "country": "FR", "currency": "EUR", "timezone": "Europe/Paris",
    "target": "1500.00", "venue": "Le Bar", "starts_at_local": "2027-02-12T19:30",
    "description_md": "Come **along**!", "ticket_url": "https://tickets.example.org/paris",
    "bank_reference": "TW-PARIS", "applicant_name": "Amélie", "applicant_email": "amelie@example.org",
}


def apply(client, campaign="tw", **overrides):
    data = dict(APPLICATION, **overrides)
    data["csrf_token"] = csrf_token(client, f"/c/{campaign}/apply")
    return client.post(f"/c/{campaign}/apply", data=data)
