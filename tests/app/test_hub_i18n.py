"""Languages: the browser's choice, overridable by the person and remembered for accounts."""
from __future__ import annotations

from sqlalchemy import select

from twestival.accounts.models import Role, User
from twestival.extensions import db

from tests.hub_support import csrf_token, login, person


def test_the_browser_language_is_followed_for_words_and_money(app, client, seed):
    german = client.get("/c/tw", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    html = german.get_data(as_text=True)
    assert '<html lang="de">' in html and "Weltweit gesammelt" in html
    assert "0,00\xa0£" in html                         # German number format
    english = client.get("/c/tw", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert "Raised worldwide" in english and "£0.00" in english
    apply_page = client.get("/c/tw/apply", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Twestival in deine Stadt holen" in apply_page and "Zeitzone" in apply_page


def test_the_switcher_overrides_the_browser(app, client, seed):
    token = csrf_token(client, "/c/tw")
    response = client.post("/language", data={"locale": "de", "next": "/c/tw",
                                              "csrf_token": token})
    assert response.status_code == 302 and response.location == "/c/tw"
    html = client.get("/c/tw", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Weltweit gesammelt" in html
    # Only local paths are followed afterwards.
    away = client.post("/language", data={"locale": "en", "next": "//evil.example/",
                                          "csrf_token": token})
    assert away.location == "/"


def test_a_signed_in_persons_choice_follows_them(app, client, seed):
    person(app, "org@example.org", Role.organiser, city="london")
    login(client, "org@example.org")
    client.post("/language", data={"locale": "de", "next": "/organise",
                                   "csrf_token": csrf_token(client, "/")})
    with app.app_context():
        assert db.session.scalar(select(User.locale).where(User.email == "org@example.org")) == "de"
    elsewhere = app.test_client()
    login(elsewhere, "org@example.org")
    desk = elsewhere.get("/organise/tw/london", headers={"Accept-Language": "en"})
    assert "Bargeld und Schecks" in desk.get_data(as_text=True)

