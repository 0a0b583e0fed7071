"""Stored XSS: hostile text in every field people can fill renders inert on every page that
shows it (escaped text, sanitised Markdown, only http(s) links)."""
from __future__ import annotations

import json
from html.parser import HTMLParser

from sqlalchemy import select

from twestival.accounts.models import Role
from twestival.campaigns.models import City
from twestival.extensions import db

from tests.hub_support import apply, cash_body, csrf_token, login, person, post_cash

PAYLOAD = "<script>alert('xss')</script>\"'><img src=x onerror=alert('xss')>"
MARKDOWN = (PAYLOAD + "\n\n[click](javascript:alert('xss')) "
            "<a href=\"javascript:alert('xss')\">a</a> <svg onload=alert('xss')>")
HOSTILE_URL = "https://example.org/\"><script>alert('xss')</script>"


class Inspector(HTMLParser):
    """Collects anything in a page that could run script."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems, self._script_type = [], None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and value and \
                    value.strip().lower().startswith(("javascript:", "data:", "vbscript:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag in ("svg", "iframe", "object", "embed"):
            self.problems.append(f"<{tag}>")
        if tag == "script":
            self._script_type = dict(attrs).get("type", "text/javascript")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_type = None

    def handle_data(self, data):
        if self._script_type is None:
            return
        if self._script_type == "application/json":
            json.loads(data)            # still one intact JSON document: nothing broke out
        elif "xss" in data:
            self.problems.append(f"script ran hostile text: {data[:60]!r}")


def assert_inert(html: str, where: str):
    inspector = Inspector()
    inspector.feed(html)
    assert not inspector.problems, f"{where}: {inspector.problems}"
    assert "xss" in html, f"{where} does not show the hostile text at all"


def test_hostile_text_in_every_field_renders_inert_everywhere(app, client, seed):
    thanks = apply(client, city_name="Paris" + PAYLOAD[:60], venue=PAYLOAD,
                   description_md=MARKDOWN, ticket_url=HOSTILE_URL, bank_reference=PAYLOAD[:100],
                   applicant_name=PAYLOAD)
    assert thanks.status_code == 200
    assert_inert(thanks.get_data(as_text=True), "thanks page")
    refused = apply(client, ticket_url="javascript:alert('xss')")
    assert refused.status_code == 422
    assert_inert(refused.get_data(as_text=True), "refused form")

    person(app, "coord@example.org", Role.coordinator, name=PAYLOAD)
    login(client, "coord@example.org")
    with app.app_context():
        slug = db.session.scalar(select(City.slug).where(City.name.like("Paris%")))
    assert_inert(client.get("/coordinate/tw").get_data(as_text=True), "coordinator desk (pending)")
    token = csrf_token(client, "/coordinate/tw")
    assert client.post(f"/coordinate/tw/cities/{slug}/approve",
                       data={"csrf_token": token}).status_code == 303
    client.post("/coordinate/tw/people", data={"email": "v@example.org", "name": PAYLOAD,
                                               "role": "volunteer", "city": slug,
                                               "csrf_token": token})
    entry = post_cash(client, token, cash_body(currency="EUR", counted_by=PAYLOAD,
                                               witness=PAYLOAD + "2", note=PAYLOAD), city=slug)
    assert entry.status_code == 201
    post_cash(client, token, cash_body(currency="EUR", note=PAYLOAD), city=slug)
    client.post(f"/organise/tw/{slug}/cash/{entry.json['id']}/reverse",
                data={"reason": PAYLOAD, "csrf_token": token})

    for path in ("/c/tw", f"/c/tw/{slug}", "/c/tw/screen", "/coordinate/tw", "/organise",
                 f"/organise/tw/{slug}", f"/organise/tw/{slug}/cash"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_inert(response.get_data(as_text=True), path)

    page = client.get(f"/c/tw/{slug}").get_data(as_text=True)
    assert "&lt;script&gt;" in page                       # shown as text, not run
    assert 'href="https://example.org/&#34;&gt;&lt;script&gt;' in page or \
        'href="https://example.org/%22%3E%3Cscript%3E' in page


def test_a_stored_javascript_link_never_reaches_an_href(app, client, seed):
    """Defence in depth: even a value that bypassed the form is not linked."""
    with app.app_context():
        from twestival.campaigns.service import get_campaign, get_city
        city = get_city(db.session, get_campaign(db.session, "tw"), "london")
        city.ticket_url = "javascript:alert('xss')"
        city.description_md = MARKDOWN
        db.session.commit()
    html = client.get("/c/tw/london").get_data(as_text=True)
    assert_inert(html, "city page")
    assert "javascript:" not in html
