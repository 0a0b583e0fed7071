"""A coordinator in a real browser: starts a campaign, approves three applications at once
with checkboxes, edits a target, withdraws a city, and finds all of it in the audit log."""
from __future__ import annotations

import pytest

from twestival.accounts.models import Role
from twestival.campaigns import applications
from twestival.campaigns.service import get_campaign
from twestival.extensions import db

from tests.chromium import browser_page, serve
from tests.hub_support import APPLICATION, PASSWORD, person

pytestmark = pytest.mark.browser


def test_a_coordinator_runs_a_campaign_from_the_browser(app, seed):
    from playwright.sync_api import expect
    person(app, "coord@example.org", Role.coordinator, name="Cora")
    with serve(app) as base, browser_page() as page:
        page.set_default_timeout(15_000)
        page.goto(f"{base}/login")
        page.fill("input[name=email]", "coord@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"{base}/organise")

        page.click("text=New campaign")
        page.fill("#name", "Twestival 2028")
        page.fill("#slug", "tw-2028")
        page.select_option("#currency", "USD")
        page.click("button:has-text('Create the campaign')")
        page.wait_for_url(f"{base}/coordinate/tw-2028")

        with app.app_context():
            camp = get_campaign(db.session, "tw-2028")
            data = {k: v for k, v in APPLICATION.items()
                    if k in ("currency", "timezone", "target", "applicant_name")}
            for name in ("Paris", "Lyon", "Nice"):
                applications.submit(db.session, camp, applications.Application(
                    city_name=name, country="FR",
                    applicant_email=f"{name.lower()}@example.org", **data))
            db.session.commit()
        page.reload()
        for slug in ("paris", "lyon", "nice"):
            page.check(f"article[data-city={slug}] input[type=checkbox]")
        page.click("[data-action=approve-selected]")
        expect(page.locator(".flash")).to_contain_text("Cities approved: 3")
        expect(page.locator("#approvals article")).to_have_count(0)

        page.goto(f"{base}/coordinate/tw-2028/cities/paris/edit")
        page.fill("#target", "4000.00")
        page.fill("#reason", "a bigger hall")
        page.click("main form.grid-form button.primary")
        expect(page.locator("tr[data-city=paris]")).to_contain_text("4,000.00")

        page.goto(f"{base}/coordinate/tw-2028/cities/nice/edit")
        page.fill("#withdraw textarea", "no venue")
        page.click("[data-action=withdraw]")
        expect(page.locator("tr[data-city=nice]")).to_contain_text("withdrawn")

        page.goto(f"{base}/coordinate/tw-2028?state=approved&sort=name")
        expect(page.locator("#cities tbody tr")).to_have_count(2)

        page.goto(f"{base}/coordinate/tw-2028/audit")
        page.select_option("select[name=action]", "city.approved")
        page.click("main form.filters button")
        expect(page.locator("tbody tr[data-action]")).to_have_count(3)
        page.goto(f"{base}/coordinate/tw-2028/audit?city=paris&action=city.edited")
        expect(page.locator("tbody tr[data-action]")).to_contain_text("a bigger hall")
