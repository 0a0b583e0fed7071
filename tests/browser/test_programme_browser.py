"""An organiser edits the run sheet and uploads a sponsor's logo on the desk; the city's venue
screen, open on a 1920×1080 TV all along, shows what is on now and next without a reload, and
the logo once it is loaded again."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from PIL import Image, ImageDraw

from twestival.accounts.models import Role

from tests.chromium import serve
from tests.browser.test_live_night_browser import chromium  # noqa: F401  (fixture)
from tests.hub_support import PASSWORD, person

pytestmark = pytest.mark.browser
LIVE = "() => document.querySelector('[data-live-campaign]').dataset.connection === 'live'"


def _logo(path):
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((10, 10, 590, 190), radius=40, fill=(200, 40, 60, 255))
    draw.text((60, 80), "ACME BREWING", fill=(255, 255, 255, 255))
    image.save(path, "PNG")


def _local(minutes: int) -> str:
    """A wall-clock time in London, ``minutes`` from now, as a datetime-local field takes it."""
    moment = dt.datetime.now(zoneinfo.ZoneInfo("Europe/London")) + dt.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_an_organisers_run_sheet_and_logo_reach_the_city_screen(app, seed, chromium, tmp_path):  # noqa: F811
    person(app, "org@example.org", Role.organiser, city="london")
    logo = tmp_path / "acme.png"
    _logo(logo)
    with serve(app) as base:
        tv = chromium.new_context(viewport={"width": 1920, "height": 1080}).new_page()
        tv.goto(base + "/c/tw/london/screen")
        tv.wait_for_function(LIVE)
        assert tv.locator("[data-run-sheet]").is_hidden()   # nothing on the sheet yet

        desk = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
        desk.goto(base + "/login")
        desk.fill("input[name=email]", "org@example.org")
        desk.fill("input[name=password]", PASSWORD)
        desk.click("form button.primary, form button[type=submit]")
        desk.goto(base + "/organise/tw/london")
        desk.click("text=Run sheet and sponsors")
        for minutes, title in ((-10, "Doors open"), (40, "The raffle"), (90, "The appeal")):
            desk.fill("#new-at_local", _local(minutes))
            desk.fill("#new-title", title)
            desk.click("text=Add to the run sheet")
            desk.wait_for_selector(f"#run-sheet input[value='{title}']")
        desk.fill("#new-name", "Acme Brewing")
        desk.fill("#new-link", "https://acme.example")
        desk.set_input_files("#new-logo", str(logo))
        desk.click("text=Add the sponsor")
        desk.wait_for_selector("img.logo-preview")

        # Pushed live to the screen that was open all along.
        tv.wait_for_function("() => document.querySelector('[data-field=rs-next-title]')"
                             ".textContent === 'The raffle'")
        assert tv.text_content("[data-field=rs-now-title]") == "Doors open"
        assert "40 min" in tv.text_content("[data-field=rs-next-in]") or \
            "39 min" in tv.text_content("[data-field=rs-next-in]")

        # Deleting the item on now (doors open) leaves nothing on now, the raffle still next.
        desk.click("#run-sheet li:first-child .rs-delete button")
        tv.wait_for_function("() => document.querySelector('[data-field=rs-now]').hidden")

        tv.reload()
        tv.wait_for_function(LIVE)
        tv.wait_for_function("() => [...document.querySelectorAll('.tv-sponsors img')]"
                             ".some((i) => i.complete && i.naturalWidth > 0)")
        box = tv.locator(".tv-sponsors img[alt='Acme Brewing']").bounding_box()
        assert box and box["height"] >= 40 and box["y"] + box["height"] <= 1080
        assert tv.text_content("[data-field=rs-next-title]") == "The raffle"
        fits = tv.evaluate("() => document.scrollingElement.scrollHeight <= innerHeight && "
                           "document.scrollingElement.scrollWidth <= innerWidth")
        assert fits
        next_box = tv.locator("[data-field=rs-next]").bounding_box()
        assert next_box and next_box["y"] + next_box["height"] <= 1080


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_the_board_and_a_city_screen_cheer_a_gift_among_the_nights_largest(app, seed, api_token,
                                                                           chromium, motion):  # noqa: F811
    from tests.helpers import post_donation
    with serve(app) as base:
        pages = []
        for path, size in (("/c/tw", (1400, 900)), ("/c/tw/tokyo/screen", (1920, 1080))):
            page = chromium.new_context(viewport=dict(zip(("width", "height"), size)),
                                        reduced_motion=motion).new_page()
            page.goto(base + path)
            page.wait_for_function(LIVE)
            pages.append(page)
        # 20 % of Tokyo's target: no milestone, which would be cheered first.
        post_donation(app.test_client(), api_token, city="tokyo", amount="60000", currency="JPY",
                      donor_name="Keiko")
        for page in pages:
            page.wait_for_function("() => { const b = document.querySelector('[data-field=celebrate]');"
                                   " return !b.hidden && b.textContent.includes('Keiko'); }")
            assert "three largest" in page.text_content("[data-field=celebrate]")
            animated = page.evaluate("() => document.querySelector('[data-field=celebrate]')"
                                     ".classList.contains('pop')")
            assert animated is (motion == "no-preference")
