"""After sign-in (and a language switch) only same-site paths are followed, whatever the
encoding: no open redirect."""
from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from twestival.accounts.models import Role

from tests.hub_support import PASSWORD, csrf_token, person

EMAIL = "ada@example.org"

# Raw query strings, as an attacker would write them into a link.
HOSTILE = [
    "/%09/evil.example/",            # the reported one: browsers drop the tab -> //evil.example/
    "/%0d%0a/evil.example/",
    "/%0a/evil.example",
    "//evil.example/",
    "%2F%2Fevil.example",
    "/%5Cevil.example",              # /\evil.example: browsers read \ as /
    "%5C%5Cevil.example",
    "/%5C/evil.example",
    "https://evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "%20//evil.example",
    "/%E3%80%80/evil.example",       # an ideographic space
    "/%00/evil.example",
    "///evil.example",
    "evil.example",
]
SAME_SITE = ["/organise/tw/london", "/c/tw?city=london", "/coordinate/tw/statement?format=csv"]


def sign_in(client, query: str):
    return client.post("/login?next=" + query, data={
        "email": EMAIL, "password": PASSWORD, "csrf_token": csrf_token(client)})


@pytest.mark.parametrize("query", HOSTILE)
def test_sign_in_never_leaves_the_site(app, client, seed, query):
    person(app, EMAIL, Role.organiser, city="london")
    response = sign_in(client, query)
    assert response.status_code == 302
    assert response.headers["Location"] == "/organise"


@pytest.mark.parametrize("path", SAME_SITE)
def test_sign_in_returns_to_the_page_asked_for(app, client, seed, path):
    person(app, EMAIL, Role.organiser, city="london")
    response = sign_in(client, quote(path, safe=""))
    assert response.headers["Location"] == path


def test_the_language_switch_never_leaves_the_site(client, seed):
    token = csrf_token(client, "/")
    for query in HOSTILE:
        response = client.post("/language", data={"locale": "de", "next": unquote(query),
                                                  "csrf_token": token})
        assert response.headers["Location"] == "/", query
    kept = client.post("/language", data={"locale": "en", "next": "/c/tw", "csrf_token": token})
    assert kept.headers["Location"] == "/c/tw"
