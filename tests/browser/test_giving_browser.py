"""A phone-sized browser gives from the board in three taps through the sandbox checkout; the
open board shows the gift without a reload, and the receipt is in the outbox."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.app.test_giving_sandbox import sandbox_app
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve
from tests.hub_support import PASSWORD, person
from twestival.accounts.models import Role
from twestival.extensions import db
from twestival.mail import OutboxMessage

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app(database_url):
    yield from sandbox_app(database_url)


def test_three_taps_from_the_board_to_a_gift_on_the_board_and_a_receipt(app):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            watcher = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            watcher.goto(f"{base}/c/tw")
            expect(watcher.locator('[data-field="connection-text"]')).to_have_text("live")
            london = watcher.locator('tr[data-city="london"] [data-field="raised"]')
            expect(london).to_have_text("£0.00")

            phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                                        locale="en-GB", timezone_id="Europe/London").new_page()
            phone.set_default_timeout(15_000)
            phone.goto(f"{base}/c/tw")
            donate = phone.get_by_role("link", name="Donate")
            box = donate.bounding_box()
            assert box is not None and box["y"] + box["height"] <= PHONE["height"]  # above the fold
            donate.tap()                                                        # 1
            expect(phone.locator("#donate-title")).to_have_text("Give to Twestival London")
            phone.get_by_role("button", name="£25", exact=True).tap()            # 2
            expect(phone).to_have_url(re.compile(r"/sandbox/checkout/cs_test_"))
            phone.fill("#email", "ada@example.org")
            phone.get_by_role("button", name="Pay £25.00").tap()                # 3
            expect(phone.locator("h1")).to_have_text("Thank you!")
            expect(phone.locator(".thanks-amount")).to_contain_text("£25.00")

            expect(london).to_have_text("£25.00")   # the open board, without a reload

            # The receipt, read in the outbox (no SMTP here) by the campaign's coordinator.
            person(app, "coord@example.org", Role.coordinator)
            desk = browser.new_context(viewport=PHONE).new_page()
            desk.goto(f"{base}/login")
            desk.fill("#email", "coord@example.org")
            desk.fill("#password", PASSWORD)
            desk.click("main button.primary")
            desk.goto(f"{base}/coordinate/tw/outbox")
            expect(desk.locator("main")).to_contain_text("Your receipt TW-")
            expect(desk.locator("main")).to_contain_text("Amount: £25.00")
            expect(desk.locator("main")).to_contain_text("ada@example.org")
        finally:
            browser.close()
    with app.app_context():
        [mail] = db.session.scalars(select(OutboxMessage)).all()
        assert mail.to_addr == "ada@example.org" and "£25.00" in mail.body
