"""Public pages render from the totals, in each city's currency and zone."""
import re

import pytest

from tests.browser import browser_page, serve
from tests.helpers import post_donation


def test_index_lists_campaigns(client, seed):
    page = client.get("/")
    assert page.status_code == 200 and b"Twestival Test" in page.data


def test_board_shows_each_city_in_its_currency(client, api_token):
    post_donation(client, api_token, city="tokyo", amount="45000", currency="JPY")
    html = client.get("/c/tw", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    tokyo = re.search(r'<tr data-city="tokyo">(.*?)</tr>', html, re.S).group(1)
    assert "¥45,000" in tokyo and "¥300,000" in tokyo and "¥255,000" in tokyo   # raised/target/to go
    assert "15.0%" in tokyo
    assert re.search(r'data-field="rank">1<', tokyo)


def test_city_page_and_screen(client, api_token):
    post_donation(client, api_token, city="berlin", amount="20.00", currency="EUR")
    city = client.get("/c/tw/berlin", headers={"Accept-Language": "de-DE"})
    assert city.status_code == 200
    assert "20,00\xa0€" in city.get_data(as_text=True)
    assert client.get("/c/tw/screen").status_code == 200


@pytest.mark.parametrize("path", ["/c/nope", "/c/tw/atlantis", "/c/nope/screen"])
def test_unknown_pages_are_404(client, seed, path):
    assert client.get(path).status_code == 404


@pytest.mark.browser
def test_board_updates_live_in_a_real_browser(app, api_token):
    with serve(app) as base, browser_page() as page:
        page.goto(f"{base}/c/tw")
        # Predicates are functions, not strings: Playwright evals a string in the page, which
        # the Content-Security-Policy (no 'unsafe-eval') refuses, as it should.
        page.wait_for_function(
            "() => document.querySelector('[data-field=connection-text]').textContent === 'live'")
        page.evaluate("window.__marker = 'same page'")     # survives only if there is no reload
        raised = page.locator('tr[data-city="tokyo"] [data-field="raised"]')
        assert raised.inner_text() == "¥0"
        client = app.test_client()
        assert post_donation(client, api_token, city="tokyo", amount="12345",
                             currency="JPY").status_code == 201
        page.wait_for_function(
            "() => document.querySelector('tr[data-city=tokyo] [data-field=raised]').textContent"
            " === '¥12,345'", timeout=10_000)
        assert page.evaluate("window.__marker") == "same page"
        assert page.locator('tr[data-city="tokyo"] [data-field="rank"]').inner_text() == "1"
        assert page.locator("tbody tr").first.get_attribute("data-city") == "tokyo"


def test_pages_carry_security_headers(client, seed):
    response = client.get("/c/tw")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_live_refuses_cross_origin_connections(app, seed):
    import socketio
    with serve(app) as base:
        evil = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            evil.connect(base, namespaces=["/live"], headers={"Origin": "https://evil.example"},
                         transports=["polling"], wait_timeout=5)
        friend = socketio.Client(reconnection=False)
        friend.connect(base, namespaces=["/live"], headers={"Origin": base},
                       transports=["polling"], wait_timeout=5)
        assert friend.connected
        friend.disconnect()


@pytest.mark.browser
def test_screen_and_city_page_update_live(app, api_token):
    with serve(app) as base, browser_page() as page:
        city = page.context.new_page()
        page.goto(f"{base}/c/tw/screen")
        city.goto(f"{base}/c/tw/berlin")
        for p in (page, city):
            p.wait_for_function("() => document.querySelector('[data-field=connection]')"
                                ".classList.contains('on')")
        assert post_donation(app.test_client(), api_token, city="berlin", amount="500.00",
                             currency="EUR").status_code == 201
        # Berlin may lead before the gift too (every share 0, names in order): wait for the
        # pushed share, then check the order.
        page.wait_for_function(
            "() => document.querySelector('li[data-city=berlin] [data-field=share]')?.textContent"
            " === '25%'", timeout=10_000)
        assert page.locator('[data-field=rows] li').first.get_attribute("data-city") == "berlin"
        city.wait_for_function(
            "() => document.querySelector('.city-stats [data-field=raised]').textContent"
            " === '€500.00'",
            timeout=10_000)
        assert city.locator('.city-stats [data-field="togo"]').inner_text() == "€1,500.00"
