"""The active-match banner in Chromium: on the board, the city page and the city's venue
screen at phone, laptop and TV sizes; redrawn live when a gift draws on the pot, gone by the
clock when the match ends; escaped; no serious accessibility problem (axe-core)."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.app.test_giving_matches import gift
from tests.browser.test_live_night_a11y import serious
from tests.browser.test_live_night_browser import LIVE
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium, serve
from tests.hub_support import PASSWORD, person
from tests.payments import payments_app
from twestival.accounts.models import Role
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.giving.matching import create_offer
from twestival.money import Money

pytestmark = pytest.mark.browser
SIZES = [(390, 844), (1400, 900), (1920, 1080)]
PAGES = ["/c/tw", "/c/tw/berlin", "/c/tw/berlin/screen"]
SPONSOR = "Kiez <Brauerei> & Söhne"
# Set TWESTIVAL_SHOTS to a directory to keep the screenshots for a look by eye.
SHOTS = os.environ.get("TWESTIVAL_SHOTS")
BANNER_FITS = """() => [...document.querySelectorAll('[data-field=matches] .match-banner')]
  .every((b) => { const r = b.getBoundingClientRect();
                  return r.width > 0 && r.left >= 0 && r.right <= innerWidth + 0.5; })"""


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


def match(app, sponsor, pot, currency, cities, starts, ends):
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        create_offer(db.session, camp, sponsor=sponsor, pot=Money(pot, currency), ratio=1,
                     cities=[get_city(db.session, camp, c) for c in cities],
                     starts_at=starts, ends_at=ends)
        db.session.commit()


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)


def test_the_banner_on_every_surface_live_and_by_the_clock(app, client, seed):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright
    now = dt.datetime.now(dt.timezone.utc)
    match(app, SPONSOR, 500000, "EUR", ["berlin"], now - dt.timedelta(hours=1),
          now + dt.timedelta(hours=2))
    person(app, "berlin-org@example.org", Role.organiser, city="berlin")
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for width, height in SIZES:
                page = browser.new_context(viewport={"width": width, "height": height},
                                           locale="en-GB", timezone_id="Europe/Berlin").new_page()
                for path in PAGES:
                    page.goto(base + path)
                    page.wait_for_function(LIVE)
                    banner = page.locator("[data-field=matches] .match-banner")
                    expect(banner).to_have_count(1)
                    expect(banner).to_contain_text(f"Every gift to Berlin doubled by {SPONSOR}")
                    expect(banner).to_contain_text("€5,000.00 of €5,000.00 left")
                    assert page.evaluate(BANNER_FITS), (path, width)
                    name = path.strip("/").replace("/", "-")
                    shot(page, f"{name}-{width}x{height}")
                    if width == 1400:
                        assert serious(page) == [], path
                page.context.close()

            # In German, as the room in Berlin reads it.
            for (width, height), path in (((390, 844), "/c/tw/berlin"),
                                          ((1920, 1080), "/c/tw/berlin/screen")):
                page = browser.new_context(viewport={"width": width, "height": height},
                                           locale="de-DE", timezone_id="Europe/Berlin").new_page()
                page.goto(base + path)
                page.wait_for_function(LIVE)
                banner = page.locator("[data-field=matches] .match-banner")
                expect(banner).to_contain_text(f"Jede Spende für Berlin verdoppelt {SPONSOR}")
                expect(banner).to_contain_text("noch 5.000,00 € von 5.000,00 €")
                assert page.evaluate(BANNER_FITS), (path, width)
                shot(page, f"de-{path.strip('/').replace('/', '-')}-{width}x{height}")
                page.context.close()

            screen = browser.new_context(viewport={"width": 1920, "height": 1080},
                                         timezone_id="Europe/Berlin").new_page()
            screen.goto(base + "/c/tw/berlin/screen")
            screen.wait_for_function(LIVE)
            banner = screen.locator("[data-field=matches] .match-banner")
            gift(client, 1, 1000, city="berlin", currency="eur")   # €10, doubled
            expect(banner).to_contain_text("€4,990.00 of €5,000.00 left")
            shot(screen, "c-tw-berlin-screen-after-gift-1920x1080")
            # A match that ends in a moment: the screen drops its banner by its own clock.
            soon = dt.datetime.now(dt.timezone.utc)
            match(app, "Brief Sponsor", 10000, "EUR", ["berlin"], soon - dt.timedelta(hours=1),
                  soon + dt.timedelta(seconds=3))
            screen.reload()
            screen.wait_for_function(LIVE)
            expect(screen.locator("[data-field=matches] .match-banner")).to_have_count(2)
            expect(screen.locator("[data-field=matches] .match-banner")).to_have_count(
                1, timeout=15_000)
            expect(banner).to_contain_text(SPONSOR)

            desk = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
            desk.goto(f"{base}/login")
            desk.fill("#email", "berlin-org@example.org")
            desk.fill("#password", PASSWORD)
            desk.click("form:has(input[name=password]) button")
            for width, height in SIZES:
                desk.set_viewport_size({"width": width, "height": height})
                desk.goto(f"{base}/organise/tw/berlin/matches")
                expect(desk.locator("h1")).to_have_text("Match gifts")
                assert desk.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
                shot(desk, f"organise-matches-{width}x{height}")
            assert serious(desk) == []
        finally:
            browser.close()
