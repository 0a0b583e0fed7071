"""Giving from every public surface: the Donate button, the city chooser (nearest first by the
visitor's time zone), QR codes to the donate pages, and the QR on the venue screen."""
from __future__ import annotations

import re

import pytest

from tests.app.test_giving_sandbox import SANDBOX, _seed
from tests.conftest import make_app
from twestival.campaigns.service import add_city, get_campaign
from twestival.extensions import db


@pytest.fixture
def app(database_url):
    app = make_app(database_url, **SANDBOX)
    _seed(app)
    with app.app_context():
        add_city(db.session, get_campaign(db.session, "tw"), "new-york", name="New York",
                 country="US", currency="USD", timezone="America/New_York", target="3000.00")
        db.session.commit()
    yield app
    app.extensions["twestival.live"].stop()


def cities_in_order(page):
    return re.findall(r'<li data-name="[^"]*"><a href="[^"]*"[^>]*>([^<]+?) <span', page)


def test_the_board_and_city_pages_have_a_donate_button(client):
    board = client.get("/c/tw").get_data(as_text=True)
    assert re.search(r'class="button donate-button" data-add-tz href="/c/tw/donate">Donate<', board)
    city = client.get("/c/tw/london").get_data(as_text=True)
    button = city.index('href="/c/tw/london/donate">Donate<')
    assert button < city.index('class="city-stats"')   # above the fold: before the figures


@pytest.mark.parametrize("tz,first", [("Asia/Tokyo", "Tokyo"), ("Europe/London", "London"),
                                      ("America/Chicago", "New York"), ("Europe/Paris", "London")])
def test_the_chooser_puts_the_nearest_city_first_and_shows_its_form(client, tz, first):
    page = client.get(f"/c/tw/donate?tz={tz}").get_data(as_text=True)
    assert cities_in_order(page)[0] == first
    assert f"Give to Twestival {first}" in page and 'id="donate"' in page


def test_without_a_time_zone_the_chooser_lists_cities_by_name(client):
    page = client.get("/c/tw/donate").get_data(as_text=True)
    assert cities_in_order(page) == ["London", "New York", "Tokyo"]
    assert 'id="donate"' not in page and "Which city are you giving to?" in page
    assert cities_in_order(client.get("/c/tw/donate?tz=Not/AZone").get_data(as_text=True)) == [
        "London", "New York", "Tokyo"]


def test_a_chosen_city_shows_its_form(client):
    page = client.get("/c/tw/donate?city=tokyo&tz=Europe/London").get_data(as_text=True)
    assert "Give to Twestival Tokyo" in page and 'aria-current="true">Tokyo' in page


def test_the_chooser_speaks_german(client):
    page = client.get("/c/tw/donate?tz=Europe/Berlin", headers={"Accept-Language": "de"})
    text = page.get_data(as_text=True)
    assert "Du spendest für London" in text and "Städte suchen" in text


@pytest.mark.parametrize("path,target", [("/c/tw/qr.svg", "http://localhost/c/tw/donate"),
                                         ("/c/tw/london/qr.svg", "http://localhost/c/tw/london/donate")])
def test_qr_codes_are_cacheable_svg(client, path, target):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg") and f"<title>{target}</title>" in svg
    assert "public" in response.headers["Cache-Control"] and "max-age=86400" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_qr_of_an_unknown_city_is_404(client):
    assert client.get("/c/tw/atlantis/qr.svg").status_code == 404
    assert client.get("/c/nope/qr.svg").status_code == 404


def test_the_venue_screen_shows_the_campaign_qr(client):
    page = client.get("/c/tw/screen").get_data(as_text=True)
    assert '<img src="/c/tw/qr.svg"' in page and "Scan to give" in page
