"""A real browser walks the hub: a city applies, a coordinator approves it, its organiser sets
a password and records cash (once online, once through the offline queue), and the public
board, open all the while, shows the money without a reload."""
from __future__ import annotations

import os
import shutil
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from twestival.accounts.models import Role
from twestival.extensions import db
from twestival.ledger.models import LedgerEntry

from tests.hub_support import PASSWORD, link_in, outbox, person

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def served(app):
    """The app on a free loopback port (Socket.IO in threading mode, werkzeug's server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


def test_apply_approve_and_cash_reaches_the_live_board(app, seed, served, browser):
    from playwright.sync_api import expect
    person(app, "coord@example.org", Role.coordinator, name="Cora")
    contexts = [browser.new_context(locale="en-GB") for _ in range(4)]
    applicant, coordinator, organiser, watcher = (c.new_page() for c in contexts)
    for page in (applicant, coordinator, organiser, watcher):
        page.set_default_timeout(15_000)

    # 1. A stranger applies to bring the night to Paris.
    applicant.goto(f"{served}/c/tw/apply")
    applicant.fill("#city_name", "Paris")
    applicant.select_option("#country", "FR")
    applicant.select_option("#currency", "EUR")
    applicant.select_option("#timezone", "Europe/Paris")
    applicant.fill("#target", "1500.00")
    applicant.fill("#venue", "Le Bar")
    applicant.fill("#starts_at_local", "2027-02-12T19:30")
    applicant.fill("#description_md", "Come **along**!")
    applicant.fill("#applicant_name", "Amélie")
    applicant.fill("#applicant_email", "amelie@example.org")
    applicant.click("button.primary.big")
    expect(applicant.locator("h1")).to_have_text("Thank you!")

    # The public board is opened and stays open from here on; Paris is not on it yet.
    watcher.goto(f"{served}/c/tw")
    expect(watcher.locator('[data-field="connection-text"]')).to_have_text("live")
    watcher.evaluate("window.stillTheSamePage = true")
    expect(watcher.locator("tr[data-city]")).to_have_count(3)

    # 2. A coordinator signs in and approves it.
    coordinator.goto(f"{served}/login")
    coordinator.fill("#email", "coord@example.org")
    coordinator.fill("#password", PASSWORD)
    coordinator.click("main button.primary")
    coordinator.goto(f"{served}/coordinate/tw")
    coordinator.click('article[data-city="paris"] [data-action="approve"]')
    expect(coordinator.locator(".flash")).to_contain_text("Paris is approved")

    # 3. The open board gained Paris when it was approved, without a reload.
    paris_row = watcher.locator('tr[data-city="paris"]')
    expect(paris_row.locator('[data-field="raised"]')).to_have_text("€0.00")
    expect(paris_row.locator("a")).to_have_attribute("href", "/c/tw/paris")

    # 4. The applicant follows the mailed link, sets a password and records cash.
    link = link_in(outbox(app, "amelie@example.org")[-1].body, "/set-password/")
    organiser.goto(served + link)
    organiser.fill("#password", PASSWORD)
    organiser.fill("#confirm", PASSWORD)
    organiser.click("main button.primary")
    organiser.goto(f"{served}/organise/tw/paris/cash")
    organiser.fill('input[name="amount"]', "42.50")
    organiser.fill('input[name="counted_by"]', "Amélie")
    organiser.fill('input[name="witness"]', "Jules")
    organiser.click('button[type="submit"]')
    expect(organiser.locator("#cash-status")).to_have_text("Recorded.")

    # 5. The open board shows it, marked provisional, without a reload.
    expect(paris_row.locator('[data-field="raised"]')).to_have_text("€42.50")
    expect(paris_row.locator('[data-field="provisional"]')).to_have_text("incl. €42.50 provisional")

    # 6. The connection drops: the entry waits on the phone and goes when it is back, once.
    contexts[2].set_offline(True)
    organiser.fill('input[name="amount"]', "10.00")
    organiser.click('button[type="submit"]')
    expect(organiser.locator("#cash-status")).to_contain_text("Saved on this phone")
    expect(organiser.locator("#cash-waiting li")).to_have_count(1)
    contexts[2].set_offline(False)
    expect(organiser.locator("#cash-status")).to_have_text("Recorded.")
    expect(organiser.locator("#cash-waiting li")).to_have_count(0)
    expect(paris_row.locator('[data-field="raised"]')).to_have_text("€52.50")
    assert watcher.evaluate("window.stillTheSamePage") is True      # never reloaded

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.stream == "cash")) == 2
    for context in contexts:
        context.close()
