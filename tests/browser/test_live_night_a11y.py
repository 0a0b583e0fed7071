"""axe-core finds no serious or critical accessibility problem on the public night's pages and
the desks around them."""
from __future__ import annotations

import pytest

from twestival.accounts.models import Role

from tests.helpers import post_donation
from tests.hub_support import PASSWORD, person
from .test_live_night_browser import LIVE, chromium, serve_on  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
PUBLIC = ["/c/tw", "/c/tw/london", "/c/tw/screen", "/c/tw/london/screen", "/c/tw/london/widget"]
PLAIN = ["/login", "/c/tw/apply"]


def serious(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe
    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
            for v in found if v["impact"] in ("serious", "critical")]


def test_no_serious_accessibility_violations(app, client, api_token, chromium):  # noqa: F811
    person(app, "london-org@example.org", Role.organiser, city="london")
    post_donation(client, api_token, city="london", amount="12.00", donor_name="Ada",
                  message="For clean water")
    with serve_on(app, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        page = chromium.new_page(viewport={"width": 1280, "height": 720})
        problems = {}
        for path in PUBLIC + PLAIN:
            page.goto(base + path)
            if path in PUBLIC:
                page.wait_for_function(LIVE)
            problems[path] = serious(page)
        page.goto(base + "/login")
        page.fill("input[name=email]", "london-org@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.click("form:has(input[name=password]) button")
        page.goto(base + "/organise/tw/london")
        assert "Thank on stage" in page.content()   # signed in: the desk itself is checked
        problems["/organise/tw/london"] = serious(page)
        assert {path: found for path, found in problems.items() if found} == {}
