"""A long board in Chromium: the page renders the top rows and live.js builds the rest, each
row as the server renders it (`?all=1`, read without JavaScript): the same words, amounts,
links, progress bars and phone labels; a live gift moves a city from the script-built rows to
the top; axe finds no serious problem."""
from __future__ import annotations

import pytest

from tests.helpers import post_donation
from tests.many_cities import TOTAL, add_cities, big_gift
from twestival.web.public import BOARD_ROWS

from .test_live_night_a11y import serious
from .test_live_night_browser import LIVE, chromium, serve_on  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser
SIZES = [(390, 844), (1400, 900)]

# Each row as a reader and a screen reader meet it; the phase label is the clock's (script only).
ROWS = """() => [...document.querySelectorAll('tbody[data-field=rows] tr')].map((tr) => ({
  city: tr.dataset.city,
  href: tr.querySelector('a').getAttribute('href'),
  bar: tr.querySelector('.bar > div').style.width,
  cells: [...tr.children].map((td) => {
    const copy = td.cloneNode(true);
    copy.querySelectorAll('[data-field=phase]').forEach((n) => n.remove());
    return [td.className, td.dataset.field || '', td.dataset.label,
            copy.textContent.replace(/\\s+/g, ' ').trim()];
  }),
}))"""
ALL_BUILT = f"() => document.querySelectorAll('tbody[data-field=rows] tr').length === {TOTAL}"
# What a phone shows before each figure: the cell's label, drawn by CSS from data-label.
PHONE_LABELS = f"""() => [...document.querySelectorAll('tbody[data-field=rows] tr')].slice({BOARD_ROWS})
  .flatMap((tr) => [...tr.querySelectorAll('td.num, td.bar-col')])
  .map((td) => getComputedStyle(td, '::before').content)"""


@pytest.fixture
def board(app, client, api_token):
    add_cities(app, client, api_token)
    return app


def _server_rows(browser, base, size):
    context = browser.new_context(java_script_enabled=False,
                                   viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    page.goto(base + "/c/tw?all=1")
    rows = page.evaluate(ROWS)
    context.close()
    return rows


@pytest.mark.parametrize("size", SIZES)
def test_script_built_rows_match_the_server_rendered_ones(board, chromium, size):  # noqa: F811
    with serve_on(board, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        expected = _server_rows(chromium, base, size)
        assert len(expected) == TOTAL
        page = chromium.new_page(viewport={"width": size[0], "height": size[1]})
        page.goto(base + "/c/tw")
        assert page.locator("tbody[data-field=rows] tr").count() in (BOARD_ROWS, TOTAL)
        page.wait_for_function(LIVE)
        page.wait_for_function(ALL_BUILT)
        assert page.evaluate(ROWS) == expected
        assert page.locator("[data-field=more]").is_hidden()
        labels = page.evaluate(PHONE_LABELS)
        assert labels and (all(label not in ("none", '""') for label in labels)
                           if size[0] < 600 else True)
        page.screenshot(path=f"/tmp/shots-boardrows/test-{size[0]}.png")
        assert serious(page) == []
        page.close()


def test_a_live_gift_moves_a_script_built_row_to_the_top(board, client, api_token,
                                                         chromium):  # noqa: F811
    with serve_on(board, 0) as server:
        base = f"http://127.0.0.1:{server.server_port}"
        page = chromium.new_page(viewport={"width": 1400, "height": 900})
        page.goto(base + "/c/tw")
        page.wait_for_function(LIVE)
        page.wait_for_function(ALL_BUILT)
        last = page.evaluate("() => [...document.querySelectorAll('tbody tr')].pop().dataset.city")
        assert page.evaluate(f"() => [...document.querySelectorAll('tbody tr')]"
                             f".findIndex((tr) => tr.dataset.city === '{last}')") >= BOARD_ROWS
        currency, amount = big_gift(last)
        response = post_donation(client, api_token, city=last, amount=amount, currency=currency)
        assert response.status_code == 201, response.get_data(as_text=True)
        page.wait_for_function(f"() => document.querySelector('tbody tr').dataset.city === '{last}'")
        first = page.locator("tbody tr").first
        assert first.locator("[data-field=rank]").inner_text() == "1"
        # Every row, the one that jumped and all it passed, as the server now ranks them.
        page.wait_for_function(ALL_BUILT)
        assert page.evaluate(ROWS) == _server_rows(chromium, base, (1400, 900))
        page.close()
