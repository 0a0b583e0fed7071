"""The public pages in a real Chromium: live updates reach the board, the screen and a city page."""

import pytest

from tests.chromium import browser_page, serve
from tests.helpers import post_donation


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
