"""A long board: the page renders the top rows and sends every row once as compact JSON for
live.js to build the rest; `?all=1` renders them all for a reader without JavaScript, and is
cached like any public page."""
from __future__ import annotations

import json
import re

from tests.many_cities import TOTAL, add_cities
from twestival.web.public import BOARD_ROWS


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr data-city="([^"]+)"', html)


def _data(html: str) -> dict:
    return json.loads(re.search(r'<script id="board-data" type="application/json">(.*?)</script>',
                                html, re.DOTALL).group(1))


def test_a_long_board_renders_the_top_rows_and_links_to_all_of_them(app, client, api_token):
    add_cities(app, client, api_token)
    html = client.get("/c/tw").get_data(as_text=True)
    data = _data(html)
    ranked = [dict(zip(data["city_columns"], values))["slug"] for values in data["city_rows"]]
    assert len(ranked) == TOTAL
    assert _rows(html) == ranked[:BOARD_ROWS]
    assert f'href="/c/tw?all=1">Show all {TOTAL} cities</a>' in html

    full = client.get("/c/tw?all=1")
    assert full.status_code == 200 and "Set-Cookie" not in full.headers
    assert _rows(full.get_data(as_text=True)) == ranked
    assert "Show all" not in full.get_data(as_text=True)
    again = client.get("/c/tw?all=1", headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304


def test_the_page_says_how_the_server_writes_each_currency(app, client, api_token):
    add_cities(app, client, api_token)
    data = _data(client.get("/c/tw").get_data(as_text=True))
    formats = data["formats"]
    assert formats["decimal"] == "." and formats["group"] == "," and formats["percent"] == ["", "%"]
    # [before the number, after it, fewest digits after the point, most]
    assert formats["money"]["HUF"] == ["HUF", "", 0, 2]
    assert formats["money"]["JPY"] == ["¥", "", 0, 0]
    assert formats["money"]["CHF"] == ["CHF", "", 2, 2]
    german = _data(client.get("/c/tw", headers={"Accept-Language": "de"}).get_data(as_text=True))
    assert german["formats"]["money"]["GBP"] == ["", "\xa0£", 2, 2]
    assert german["formats"]["decimal"] == ","


def test_a_short_board_renders_every_row(client, seed):
    html = client.get("/c/tw").get_data(as_text=True)
    assert _rows(html) == ["berlin", "london", "tokyo"]
    assert "Show all" not in html
