"""A coordinator, in a real Chromium, sees a KES city flagged for want of a rate, enters the
Central Bank of Kenya's rate on the rates page, and a KES gift then reaches the live board."""

import pytest

from twestival.accounts.models import Role
from twestival.campaigns.service import add_city, get_campaign
from twestival.extensions import db

from tests.chromium import browser_page, serve
from tests.helpers import post_donation
from tests.hub_support import PASSWORD, person


@pytest.mark.browser
def test_a_kes_city_counts_gifts_once_its_rate_is_entered(app, api_token):
    person(app, "coord@example.org", Role.coordinator)
    with app.app_context():
        add_city(db.session, get_campaign(db.session, "tw"), "nairobi", name="Nairobi",
                 country="KE", currency="KES", timezone="Africa/Nairobi", target="100000.00")
        db.session.commit()
    client = app.test_client()
    refused = post_donation(client, api_token, city="nairobi", amount="1500.00", currency="KES")
    assert refused.status_code == 422 and "no exchange rate" in refused.get_json()["error"]

    with serve(app) as base, browser_page() as page:
        page.set_default_timeout(15_000)
        page.goto(f"{base}/login")
        page.fill("input[name=email]", "coord@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.goto(f"{base}/coordinate/tw")
        assert page.locator('#missing-rates li[data-city="nairobi"]').is_visible()
        page.click("#missing-rates a.button")
        assert page.locator("#currency").input_value() == "KES"
        page.fill("#rate", "140.25")
        page.fill("#source", "Central Bank of Kenya")
        page.click("#enter button.primary")
        assert "entered: Central Bank of Kenya" in page.locator(
            'tr[data-currency="KES"]').inner_text()
        page.goto(f"{base}/coordinate/tw")
        assert page.locator("#missing-rates").count() == 0

        page.goto(f"{base}/c/tw")
        page.wait_for_function(
            "() => document.querySelector('[data-field=connection-text]').textContent === 'live'")
        assert post_donation(client, api_token, city="nairobi", amount="1500.00",
                             currency="KES").status_code == 201
        page.wait_for_function(
            "() => document.querySelector('tr[data-city=nairobi] [data-field=raised]')"
            ".textContent.includes('1,500.00')", timeout=10_000)
