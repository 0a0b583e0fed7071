"""Public pages are the same for everyone and may be kept by shared caches: no cookie until a
visitor starts to give, a strong ETag that changes with every gift, 304s, short public caching;
pages of signed-in people are never stored (web/pagecache.py, web/security.py)."""
from __future__ import annotations

import re
import time

import pytest
from flask import request_started

from twestival.accounts.models import Role

from tests.helpers import post_donation, published
from tests.hub_support import login, person

PUBLIC = ["/", "/c/tw", "/c/tw/london", "/c/tw/screen", "/c/tw/london/screen",
          "/c/tw/london/widget", "/c/tw/london/card.png", "/c/tw/qr.svg", "/c/tw/london/qr.svg",
          "/api/v1/campaigns/tw/leaderboard", "/api/v1/campaigns/tw/gifts",
          "/api/v1/campaigns/tw/history"]
CHANGING = ["/c/tw", "/c/tw/london", "/c/tw/screen", "/c/tw/london/screen",
            "/c/tw/london/widget", "/api/v1/campaigns/tw/leaderboard",
            "/api/v1/campaigns/tw/gifts"]


@pytest.mark.parametrize("path", PUBLIC)
def test_public_pages_set_no_cookie_and_may_be_kept_by_any_cache(client, seed, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")
    assert b"csrf" not in response.get_data().lower()
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["ETag"])    # strong
    cache = response.headers["Cache-Control"]
    assert cache.startswith("public") and "max-age=" in cache, cache
    again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    if "stale-while-revalidate" not in cache:   # a share card or QR code: kept longer anywhere
        assert "X-Accel-Expires" not in response.headers
        return
    # nginx keeps it at most to the end of this second (it counts in whole seconds)
    for answer in (response, again):
        until = int(answer.headers["X-Accel-Expires"].lstrip("@"))
        assert answer.headers["X-Accel-Expires"].startswith("@")
        assert abs(until - time.time()) < 5


@pytest.mark.parametrize("path", CHANGING)
def test_a_new_gift_changes_the_etag_and_the_body(app, client, seed, api_token, path):
    before = client.get(path)
    assert "stale-while-revalidate=" in before.headers["Cache-Control"]
    post_donation(client, api_token, city="london", amount="12.34", donor_name="Grace")
    published(app)
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    body = after.get_data(as_text=True)
    assert body != before.get_data(as_text=True)
    assert "12.34" in body or "1234" in body or "Grace" in body
    assert client.get(path, headers={"If-None-Match": after.headers["ETag"]}).status_code == 304


def test_the_language_is_part_of_the_page(client, seed):
    english = client.get("/c/tw/london", headers={"Accept-Language": "en"})
    german = client.get("/c/tw/london", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Accept-Language" in english.headers["Vary"]
    assert english.headers["ETag"] != german.headers["ETag"]
    assert "Raised" in english.get_data(as_text=True)
    assert "Gesammelt" in german.get_data(as_text=True) or "Spenden" in german.get_data(as_text=True)
    assert client.get("/c/tw/london", headers={
        "Accept-Language": "de", "If-None-Match": english.headers["ETag"]}).status_code == 200


def test_giving_starts_the_session_and_keeps_its_csrf_token(client, seed):
    city = client.get("/c/tw/london").get_data(as_text=True)
    assert 'href="/c/tw/london/donate"' in city and 'id="donate"' not in city
    page = client.get("/c/tw/london/donate")
    assert any(c.startswith("session=") for c in page.headers.getlist("Set-Cookie"))
    assert 'name="csrf_token"' in page.get_data(as_text=True)
    refused = client.post("/c/tw/london/donate", data={"amount": "10", "method": "stripe"})
    assert refused.status_code == 400


def test_the_language_switch_asks_first_then_posts_with_its_token(client, seed):
    board = client.get("/c/tw").get_data(as_text=True)
    assert 'method="get" action="/language"' in board
    assert client.post("/language", data={"locale": "de", "next": "/c/tw"}).status_code == 400
    ask = client.get("/language", query_string={"locale": "de", "next": "/c/tw"})
    html = ask.get_data(as_text=True)
    assert "Weiter auf Deutsch" in html and "data-autosubmit" in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    chosen = client.post("/language", data={"locale": "de", "next": "/c/tw", "csrf_token": token})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/c/tw"
    # Now the visitor has a session: their page is their own, not one to share.
    mine = client.get("/c/tw")
    assert 'lang="de"' in mine.get_data(as_text=True)
    assert mine.headers["Cache-Control"] == "private, no-cache"
    assert client.get("/language", query_string={
        "locale": "xx", "next": "//evil.example"}).headers["Location"] == "/"


def test_signed_in_people_get_pages_that_are_never_stored(app, client, seed):
    person(app, "ada@example.org", Role.organiser, city="london")
    login(client, "ada@example.org")
    for path in CHANGING + ["/c/tw/london/card.png"]:
        response = client.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
        assert "ETag" not in response.headers, path


def test_hiding_a_gift_changes_the_shared_page_at_once(app, client, seed, api_token):
    post_donation(client, api_token, city="london", donor_name="Rude Name")
    published(app)
    anonymous = app.test_client()
    assert "Rude Name" in anonymous.get("/c/tw/london").get_data(as_text=True)
    person(app, "org@example.org", Role.organiser, city="london")
    login(client, "org@example.org")
    [gift] = anonymous.get("/api/v1/campaigns/tw/gifts").get_json()["gifts"]
    desk = client.get("/organise/tw/london").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', desk).group(1)
    hidden = client.post(f"/organise/tw/london/gifts/{gift['id']}",
                         data={"action": "hide", "csrf_token": token})
    assert hidden.status_code == 303
    assert "Rude Name" not in anonymous.get("/c/tw/london").get_data(as_text=True)
    assert anonymous.get("/api/v1/campaigns/tw/gifts").get_json()["gifts"][0]["donor_name"] is None


def test_a_repeat_gets_the_same_headers_and_nothing_of_another_scheme_or_host(client, seed):
    first = client.get("/c/tw/london/widget")
    again = client.get("/c/tw/london/widget")
    for name in ("ETag", "Cache-Control", "Vary", "Content-Security-Policy", "Content-Type"):
        assert again.headers[name] == first.headers[name], name
    assert "X-Frame-Options" not in again.headers   # the widget may be framed anywhere
    assert "Strict-Transport-Security" in client.get("/c/tw", base_url="https://localhost").headers
    plain = client.get("/c/tw", base_url="http://localhost")
    assert "Strict-Transport-Security" not in plain.headers
    other = client.get("/c/tw", base_url="http://other.example")
    assert "ws://other.example" in other.headers["Content-Security-Policy"]
    assert "http://other.example/" in other.get_data(as_text=True)


def test_a_repeat_of_a_current_page_is_answered_without_flask(app, client, seed):
    """The crowd's repeats skip Flask's routing and hooks (web/pagecache.FastPath); each try
    is a load through Flask, which reads the seq afresh, then a repeat at once, which the fast
    path answers while that seq is trusted (250 ms: a few tries, for a slow machine)."""
    started = []

    def count(sender, **extra):
        started.append(1)
    with request_started.connected_to(count, app):
        for _ in range(5):
            first = client.get("/c/tw/london?try=" + str(len(started)))
            before = len(started)
            repeat = client.get(first.request.full_path)
            if len(started) == before:
                break
    assert len(started) == before, "every repeat went through Flask"
    assert repeat.get_data() == first.get_data()
    assert repeat.headers["ETag"] == first.headers["ETag"]


def test_what_a_signed_in_organiser_changes_shows_on_the_shared_page_at_once(app, client, seed):
    """A run sheet item moves no seq; the page cached for everyone must still show it."""
    anonymous = app.test_client()
    before = anonymous.get("/c/tw/london")
    assert "Doors open" not in before.get_data(as_text=True)
    person(app, "org@example.org", Role.organiser, city="london")
    login(client, "org@example.org")
    page = client.get("/organise/tw/london/programme").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    added = client.post("/organise/tw/london/run-sheet", data={
        "new-at_local": "2027-02-12T20:00", "new-title": "Doors open", "new-note": "",
        "csrf_token": token}, content_type="multipart/form-data")
    assert added.status_code == 303
    after = anonymous.get("/c/tw/london", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200
    assert "Doors open" in after.get_data(as_text=True)
