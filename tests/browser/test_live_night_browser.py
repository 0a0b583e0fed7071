"""The live night in Chromium: screens that fit a TV at every size, phone pages without sideways
scrolling, a connection state that tells the truth, the campaign screen paging 150 cities."""
from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from werkzeug.serving import make_server

from tests.chromium import CHROMIUM, CHROMIUM_ARGS, require_chromium
from twestival.extensions import db, socketio

from tests.helpers import post_donation

pytestmark = pytest.mark.browser
TV_SIZES = [(1280, 720), (1920, 1080), (3840, 2160)]
PHONES = [(360, 740), (390, 844)]
LONG = "Ünïcödé Wolfeschlegelsteinhausenbergerdorff the Third of Llanfairpwllgwyngyll"

# Every element each screen must show, whole and inside the window.
SCREEN_PARTS = {
    "/c/tw/screen": ["h1", "[data-field=total]", "[data-field=page-label]",
                     "[data-field=rows] li:nth-child(10)", ".gift-wall",
                     ".gift-wall .gift", "[data-field=connection-text]", ".tv-night"],
    "/c/tw/london/screen": ["h1", "[data-field=raised]", ".tv-target", ".thermo", ".tv-togo",
                            ".neighbours li.me", ".neighbours li:nth-child(3)", ".tv-qr img",
                            ".tv-qr figcaption", ".tv-ticker .gift",
                            "[data-field=connection-text]"],
}
OUTSIDE = """(selectors) => selectors.flatMap((sel) => {
  const n = document.querySelector(sel);
  if (!n) return [sel + ": missing"];
  const r = n.getBoundingClientRect();
  const ok = r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
             r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5;
  return ok ? [] : [sel + ": " + JSON.stringify(r)];
})"""
LIVE = "() => document.querySelector('[data-live-campaign]').dataset.connection === 'live'"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_on(app, port):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def chromium():
    require_chromium()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def night(app, client, api_token):
    """150 cities (the seed's three and 147 more), gifts with long names and messages."""
    from twestival.campaigns.service import add_city, get_campaign
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        for i in range(147):
            add_city(db.session, camp, f"city-{i:03d}", name=f"City {i:03d} {LONG[:i % 30]}",
                     country="GB", currency="GBP", timezone="Europe/London", target="1000.00")
        db.session.commit()
    for i, city in enumerate(("london", "city-004", "city-120", "london", "berlin")):
        post_donation(client, api_token, city=city, amount=f"{10 + i}.00",
                      currency="EUR" if city == "berlin" else "GBP",
                      donor_name=LONG, message=(LONG + " ") * 4)
    return app


def test_screens_fit_a_tv_at_every_size(night, chromium):
    with serve_on(night, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        for width, height in TV_SIZES:
            page = chromium.new_page(viewport={"width": width, "height": height})
            for path, parts in SCREEN_PARTS.items():
                page.goto(base + path)
                page.wait_for_function(LIVE)
                size = page.evaluate("[document.documentElement.scrollWidth, "
                                     "document.documentElement.scrollHeight, innerWidth, innerHeight]")
                assert size[0] <= size[2] and size[1] <= size[3], (path, width, height, size)
                assert page.evaluate(OUTSIDE, parts) == [], (path, width, height)
            page.close()


def test_the_campaign_screen_pages_through_150_cities(night, chromium):
    with serve_on(night, 0) as server:
        page = chromium.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(f"http://127.0.0.1:{server.server_port}/c/tw/screen")
        page.wait_for_function(LIVE)
        label = page.locator("[data-field=page-label]")
        assert label.inner_text().endswith("1/15")
        first = page.locator("[data-field=rows] li .rank").all_inner_texts()
        page.wait_for_function("() => document.querySelector('[data-field=page-label]').textContent"
                               ".endsWith('2/15')", timeout=20_000)
        second = page.locator("[data-field=rows] li .rank").all_inner_texts()
        assert len(first) == len(second) == 10
        assert int(second[0]) > int(first[-1]) or first != second


def test_phone_pages_never_scroll_sideways(night, chromium):
    with serve_on(night, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        for width, height in PHONES:
            page = chromium.new_page(viewport={"width": width, "height": height},
                                     has_touch=True, is_mobile=True)
            for path in ("/c/tw", "/c/tw/london", "/c/tw/london/widget"):
                page.goto(base + path)
                page.wait_for_function(LIVE)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= width, (path, width, wide)
            page.goto(base + "/c/tw")
            page.wait_for_function(LIVE)
            assert page.evaluate("getComputedStyle(document.querySelector("
                                 "'tbody tr')).display") == "grid"        # cards, not a table
            small = page.evaluate("""() => [...document.querySelectorAll(
                'td.city-cell a, [data-field=search], [data-field=filter], header.site nav a,'
                + ' header.site nav button')].filter((n) => n.getBoundingClientRect().height < 44)
                .map((n) => n.outerHTML.slice(0, 80))""")
            assert small == []
            page.close()


def test_board_search_and_live_filter(night, chromium):
    with serve_on(night, 0) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{server.server_port}/c/tw")
        page.wait_for_function(LIVE)
        page.fill("[data-field=search]", "tokyo")
        assert page.locator("tbody tr:not([hidden])").count() == 1
        page.fill("[data-field=search]", "japan")            # by country name too
        assert page.locator("tbody tr:not([hidden])").all()[0].get_attribute("data-city") == "tokyo"
        page.fill("[data-field=search]", "")
        page.select_option("[data-field=filter]", "live")      # no city has a start yet
        assert page.locator("tbody tr:not([hidden])").count() == 0
        page.select_option("[data-field=filter]", "all")
        assert page.locator("tbody tr:not([hidden])").count() == 150


def test_connection_state_tells_the_truth_and_resyncs(app, api_token, chromium):
    port = _free_port()
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    with serve_on(app, port):
        page.goto(f"http://127.0.0.1:{port}/c/tw/london/screen")
        page.wait_for_function(LIVE)
        assert page.locator("[data-field=connection-text]").inner_text() == "live"
        # Every connection drops (engine.io's disconnect() would wait for each writer to
        # finish, which can hang once a writer is gone); then the server stops.
        for connection in list(socketio.server.eio.sockets.values()):
            connection.close(wait=False)
    page.wait_for_function("() => document.querySelector('[data-live-campaign]').dataset.connection"
                           " === 'reconnecting'")
    assert page.locator("[data-field=connection-text]").inner_text() == "reconnecting…"
    post_donation(app.test_client(), api_token, city="london", amount="42.00",
                  donor_name="While you were away")
    with serve_on(app, port):
        page.wait_for_function(LIVE, timeout=20_000)
        page.wait_for_function("() => document.querySelector('[data-field=raised]').textContent"
                               " === '£42.00'")
        assert "While you were away" in page.locator(".tv-ticker").inner_text()
    page.close()


def test_screen_readers_hear_the_total_politely(app, api_token, chromium):
    with serve_on(app, 0) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{server.server_port}/c/tw")
        page.wait_for_function(LIVE)
        region = page.locator("[data-field=announce]")
        assert region.get_attribute("aria-live") == "polite"
        post_donation(app.test_client(), api_token, city="london", amount="7.00")
        page.wait_for_function("() => document.querySelector('[data-field=announce]').textContent"
                               " === 'Raised so far: £7.00'")
        heard = page.evaluate("Date.now()")
        # The next total waits for its turn (10 s apart), so readers are not flooded.
        post_donation(app.test_client(), api_token, city="london", amount="1.00")
        page.wait_for_function("() => document.querySelector('tr[data-city=london] "
                               "[data-field=raised]').textContent === '£8.00'")
        if page.evaluate("Date.now()") - heard < 9_000:   # (a very slow machine: its turn came)
            assert region.inner_text() == "Raised so far: £7.00"


@pytest.mark.parametrize("motion", ["no-preference", "reduce"])
def test_screens_cheer_a_city_passing_a_quarter(app, api_token, chromium, motion):
    with serve_on(app, 0) as server:
        page = chromium.new_page(viewport={"width": 1280, "height": 720}, reduced_motion=motion)
        page.goto(f"http://127.0.0.1:{server.server_port}/c/tw/london/screen")
        page.wait_for_function(LIVE)
        assert page.locator("[data-field=celebrate]").is_hidden()
        post_donation(app.test_client(), api_token, city="london", amount="700.00")   # 28 %
        page.wait_for_function("() => !document.querySelector('[data-field=celebrate]').hidden")
        banner = page.locator("[data-field=celebrate]")
        assert banner.inner_text() == "London passed 25% of its target!"
        assert ("pop" in banner.get_attribute("class")) == (motion == "no-preference")


def test_the_night_clock_shows_each_window_and_now(app, chromium):
    from twestival.campaigns.service import add_city, create_campaign
    from twestival.demo import spread_the_night
    with app.app_context():
        camp = create_campaign(db.session, "night", name="Night", currency="GBP")
        for i, tz in enumerate(("Asia/Tokyo", "Europe/Berlin", "America/New_York", "Europe/London")):
            add_city(db.session, camp, f"c{i}", name=f"C{i}", country="GB", currency="GBP",
                     timezone=tz, target="100.00")
        spread_the_night(db.session, camp)
        db.session.commit()
    with serve_on(app, 0) as server:
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://127.0.0.1:{server.server_port}/c/night")
        page.wait_for_function(LIVE)
        bars = page.locator("[data-field=clock] .clock-bar")
        assert bars.count() == 4
        assert page.locator("[data-field=clock] .clock-bar.live").count() >= 1
        now = page.locator("[data-field=clock] .clock-now").bounding_box()
        band = page.locator("[data-field=clock]").bounding_box()
        assert band["x"] < now["x"] < band["x"] + band["width"]
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400
