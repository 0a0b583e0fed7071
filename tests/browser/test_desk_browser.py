"""The organiser desk in Chromium: the total, rank and gifts move live as money arrives, and
the desk and the imports history fit a phone without scrolling sideways."""
from __future__ import annotations

import pytest

from tests.helpers import post_donation
from tests.hub_support import PASSWORD, person
from twestival.accounts.models import Role

from .test_live_night_browser import LIVE, chromium, serve_on  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def sign_in(page, base, email):
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("form:has(input[name=password]) button")


def test_the_desk_total_and_gifts_update_live(app, client, api_token, chromium):  # noqa: F811
    person(app, "lon@example.org", Role.organiser, city="london")
    post_donation(client, api_token, city="london", amount="10.00", donor_name="Ada")
    with serve_on(app, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        sign_in(page, base, "lon@example.org")
        page.goto(base + "/organise/tw/london")
        page.wait_for_function(LIVE)
        night = page.locator("#night")
        assert night.locator("[data-field=raised]").inner_text() == "£10.00"
        post_donation(client, api_token, city="london", amount="2490.00", donor_name="Grace",
                      message="Over the line")
        page.wait_for_function("() => document.querySelector('#night [data-field=raised]')"
                               ".textContent === '£2,500.00'")
        assert night.locator("[data-field=share]").inner_text() == "100%"
        assert night.locator("[data-field=donations]").inner_text() == "2"
        page.wait_for_function("() => [...document.querySelectorAll('#night .gift-name')]"
                               ".some((n) => n.textContent === 'Grace')")
        page.close()


def test_desk_and_imports_history_fit_a_phone(app, client, api_token, chromium):  # noqa: F811
    from tests.imports_helpers import FIXTURES, run_import
    person(app, "lon@example.org", Role.organiser, city="london")
    post_donation(client, api_token, city="london", amount="10.00",
                  donor_name="Wolfeschlegelsteinhausenbergerdorff the Third",
                  message="A very long message " * 12)
    run_import(app, FIXTURES / "ticketing/eventbrite/paid_orders.csv", "eventbrite",
               city="london")
    with serve_on(app, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        page = chromium.new_page(viewport={"width": 390, "height": 844}, has_touch=True,
                                 is_mobile=True)
        sign_in(page, base, "lon@example.org")
        for path in ("/organise/tw/london", "/organise/tw/london/imports/history",
                     "/organise/tw/london/imports/history/1"):
            page.goto(base + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        page.close()
