"""Behind TLS, directly or through the trusted proxy: Secure cookies and HSTS. On every page a
Content-Security-Policy the templates live within. Signed-in pages are never cached."""
from __future__ import annotations

import re

import pytest

from twestival.accounts.models import Role
from twestival.web.security import csp

from tests.conftest import make_app
from tests.hub_support import PASSWORD, login, person

EMAIL = "ada@example.org"


def sign_in(client, headers=None, **request):
    token = csrf_token_over(client, headers=headers, **request)
    # Over HTTPS Flask-WTF also wants a same-site Referer.
    headers = dict(headers or {}, Referer="https://localhost/login")
    return client.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                       "csrf_token": token}, headers=headers, **request)


def csrf_token_over(client, **request):
    html = client.get("/login", **request).get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def session_cookie(response) -> str:
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


def test_over_https_the_session_cookie_is_secure_and_pages_carry_hsts(app, client, seed):
    person(app, EMAIL, Role.organiser, city="london")
    response = sign_in(client, base_url="https://localhost")
    assert response.status_code == 302
    assert "; Secure" in session_cookie(response)
    page = client.get("/c/tw", base_url="https://localhost")
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_through_the_trusted_proxy_https_counts_as_https(database_url, seed):
    app = make_app(database_url, PROXIES=1)
    try:
        person(app, EMAIL, Role.organiser, city="london")
        client = app.test_client()
        proxied = {"headers": {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}}
        response = sign_in(client, **proxied)
        assert "; Secure" in session_cookie(response)
        assert client.get("/", **proxied).headers["Strict-Transport-Security"]
    finally:
        app.extensions["twestival.live"].stop()


def test_plain_http_and_untrusted_forwarding_headers_change_nothing(app, client, seed):
    person(app, EMAIL, Role.organiser, city="london")
    # TWESTIVAL_PROXIES is 0: anyone could send this header, so it is not believed.
    forged = {"headers": {"X-Forwarded-Proto": "https"}}
    response = sign_in(client, **forged)
    assert "Secure" not in session_cookie(response)
    assert "Strict-Transport-Security" not in client.get("/", **forged).headers


def test_every_page_has_a_content_security_policy_that_frames_only_on_this_site(client, seed):
    for path in ("/", "/c/tw", "/c/tw/london", "/c/tw/screen", "/login", "/api/v1/campaigns/tw/leaderboard"):
        response = client.get(path)
        policy = dict(part.strip().split(" ", 1) for part in
                      response.headers["Content-Security-Policy"].split(";"))
        assert policy["frame-ancestors"] == "'self'", path
        assert policy["script-src"] == "'self'"
        assert policy["object-src"] == "'none'"
        assert policy["img-src"] == "'self' data: https:"   # pictures in organisers' Markdown
        assert policy["connect-src"] == "'self' ws://localhost"
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_forged_host_header_cannot_write_into_the_policy(client):
    policy = client.get("/", headers={"Host": "x; script-src *"}).headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "*" not in policy
    assert "connect-src 'self';" in policy


SCRIPT = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def test_pages_run_no_inline_script_the_policy_would_block(app, client, seed):
    person(app, EMAIL, Role.coordinator)
    login(client, EMAIL)
    for path in ("/", "/c/tw", "/c/tw/london", "/c/tw/screen", "/c/tw/apply", "/login",
                 "/organise", "/organise/tw/london", "/organise/tw/london/cash",
                 "/coordinate/tw", "/coordinate/tw/statement", "/coordinate/tw/timeline"):
        html = client.get(path).get_data(as_text=True)
        for attributes in SCRIPT.findall(html):
            assert "src=" in attributes or 'type="application/json"' in attributes, (path, attributes)
        assert not HANDLER.search(html), path
        assert "javascript:" not in html, path


def test_a_view_can_change_one_directive_and_keep_the_rest(database_url, seed):
    app = make_app(database_url)
    try:
        @app.get("/_framed")
        @csp(frame_ancestors="*")
        def framed():
            return "framed"

        response = app.test_client().get("/_framed")
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors *" in policy and "script-src 'self'" in policy
        assert "X-Frame-Options" not in response.headers
    finally:
        app.extensions["twestival.live"].stop()


@pytest.mark.parametrize("path", ["/login", "/forgot-password", "/organise", "/coordinate/tw"])
def test_sign_in_and_desk_pages_are_never_stored(client, seed, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_any_page_for_a_signed_in_person_is_never_stored(app, client, seed):
    anonymous = client.get("/c/tw")
    assert "no-store" not in anonymous.headers.get("Cache-Control", "")
    person(app, EMAIL, Role.organiser, city="london")
    login(client, EMAIL)
    for path in ("/c/tw", "/", "/organise/tw/london", "/api/v1/campaigns/tw/leaderboard"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    static = client.get("/static/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
