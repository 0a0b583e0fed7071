"""Organisers keep their city's page: Markdown sanitised, times in the city's own zone,
amounts in its currency."""
from __future__ import annotations

from twestival.accounts.models import Role
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db

from tests.hub_support import csrf_token, login, person

PAGE = {"venue": "Shibuya Hall", "starts_at_local": "2027-02-12T19:30",
        "description_md": "Join us for **drinks** and [tickets](https://example.org/t)",
        "ticket_url": "https://example.org/tokyo", "bank_reference": "TW-TOKYO"}


def _edit(client, **overrides):
    return client.post("/organise/tw/tokyo/page",
                       data=dict(PAGE, csrf_token=csrf_token(client, "/organise/tw/tokyo"),
                                 **overrides))


def test_an_organiser_edits_the_page_and_the_public_sees_it(app, client, seed):
    person(app, "tokyo@example.org", Role.organiser, city="tokyo")
    login(client, "tokyo@example.org")
    assert _edit(client).status_code == 302
    page = client.get("/c/tw/tokyo", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Shibuya Hall" in page
    assert "Fri, Feb 12, 7:30\u202fPM in Tokyo</time>" in page   # its wall clock, no seconds
    assert "<strong>drinks</strong>" in page
    assert 'href="https://example.org/tokyo"' in page
    assert "¥300,000" in page                                          # target in yen, no decimals
    german = client.get("/c/tw/tokyo", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Fr., 12. Feb., 19:30 in Tokyo</time>" in german and "300.000\xa0¥" in german
    desk = client.get("/organise/tw/tokyo").get_data(as_text=True)
    assert 'value="2027-02-12T19:30"' in desk


def test_a_bad_page_edit_is_refused_and_changes_nothing(app, client, seed):
    person(app, "tokyo@example.org", Role.organiser, city="tokyo")
    login(client, "tokyo@example.org")
    for field, value, message in [("ticket_url", "javascript:alert(1)", "web address"),
                                  ("venue", "x" * 301, "longer than 300 characters"),
                                  ("starts_at_local", "tomorrow", "Not a valid datetime")]:
        response = _edit(client, **{field: value})
        assert response.status_code == 422, field
        assert message in response.get_data(as_text=True), field
    with app.app_context():
        tokyo = get_city(db.session, get_campaign(db.session, "tw"), "tokyo")
        assert (tokyo.venue, tokyo.ticket_url, tokyo.starts_at_local) == (None, None, None)
