"""Public pages render from the totals, in each city's currency and zone."""
import re

import pytest

from tests.chromium import serve
from tests.helpers import post_donation


def test_index_lists_campaigns(client, seed):
    page = client.get("/")
    assert page.status_code == 200 and b"Twestival Test" in page.data


def test_board_shows_each_city_in_its_currency(client, api_token):
    post_donation(client, api_token, city="tokyo", amount="45000", currency="JPY")
    html = client.get("/c/tw", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    tokyo = re.search(r'<tr data-city="tokyo">(.*?)</tr>', html, re.S).group(1)
    assert "¥45,000" in tokyo and "¥300,000" in tokyo and "¥255,000" in tokyo   # raised/target/to go
    assert "15.0%" in tokyo
    assert re.search(r'data-field="rank">1<', tokyo)


def test_city_page_and_screen(client, api_token):
    post_donation(client, api_token, city="berlin", amount="20.00", currency="EUR")
    city = client.get("/c/tw/berlin", headers={"Accept-Language": "de-DE"})
    assert city.status_code == 200
    assert "20,00\xa0€" in city.get_data(as_text=True)
    assert client.get("/c/tw/screen").status_code == 200


@pytest.mark.parametrize("path", ["/c/nope", "/c/tw/atlantis", "/c/nope/screen"])
def test_unknown_pages_are_404(client, seed, path):
    assert client.get(path).status_code == 404


def test_pages_carry_security_headers(client, seed):
    response = client.get("/c/tw")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_live_refuses_cross_origin_connections(app, seed):
    import socketio
    with serve(app) as base:
        evil = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            evil.connect(base, namespaces=["/live"], headers={"Origin": "https://evil.example"},
                         transports=["polling"], wait_timeout=5)
        friend = socketio.Client(reconnection=False)
        friend.connect(base, namespaces=["/live"], headers={"Origin": base},
                       transports=["polling"], wait_timeout=5)
        assert friend.connected
        friend.disconnect()
