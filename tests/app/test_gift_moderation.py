"""Moderating the gift wall: the word list, hiding from a desk (who may, CSRF, the push), and
nothing a donor types running on any page."""
import pytest

from twestival.accounts.models import Role

from tests.helpers import post_donation, published, wait_for
from tests.hub_support import csrf_token, login, person

SCRIPTY = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&'


def gifts(client, **query):
    published(client.application)   # the public JSON shows the campaign as of its last update
    return client.get("/api/v1/campaigns/tw/gifts", query_string=query).get_json()["gifts"]


@pytest.fixture
def wall(app, client, api_token):
    person(app, "london-org@example.org", Role.organiser, city="london")
    person(app, "tokyo-org@example.org", Role.organiser, city="tokyo")
    person(app, "vol@example.org", Role.volunteer, city="london")
    person(app, "coord@example.org", Role.coordinator)
    post_donation(client, api_token, city="london", donor_name="Ada", message="Go London")
    return gifts(client)[0]["id"]


def hide(client, gift_id, action="hide", city="london", with_token=True):
    data = {"action": action}
    if with_token:
        data["csrf_token"] = csrf_token(client, "/")
    return client.post(f"/organise/tw/{city}/gifts/{gift_id}", data=data)


@pytest.mark.parametrize("email, status", [
    (None, 302), ("vol@example.org", 403), ("tokyo-org@example.org", 403),
    ("london-org@example.org", 303), ("coord@example.org", 303)])
def test_who_may_hide_a_gift(client, wall, email, status):
    if email:
        login(client, email)
    response = hide(client, wall)
    assert response.status_code == status
    shown = gifts(client)[0]
    hidden = status == 303
    assert (shown["donor_name"], shown["message"]) == ((None, None) if hidden else ("Ada", "Go London"))
    assert shown["amount_minor"] == 1000   # the money is never hidden


def test_hiding_needs_the_csrf_token_and_the_gift_of_the_city(client, wall):
    login(client, "tokyo-org@example.org")
    assert hide(client, wall, city="tokyo").status_code == 404   # not a Tokyo gift
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "london-org@example.org")
    hide(client, wall, with_token=False)
    assert gifts(client)[0]["donor_name"] == "Ada"
    assert hide(client, wall, action="delete").status_code == 422


def test_hiding_pushes_gift_hidden_to_campaign_and_city_watchers(app, client, wall):
    from twestival.extensions import socketio
    board = socketio.test_client(app, namespace="/live")
    screen = socketio.test_client(app, namespace="/live")
    board.emit("watch", {"campaign": "tw"}, namespace="/live")
    screen.emit("watch", {"campaign": "tw", "city": "london"}, namespace="/live")
    assert wait_for(board, "leaderboard")[0]["gifts"][0]["id"] == wall
    assert wait_for(screen, "leaderboard")[0]["gifts"][0]["id"] == wall
    login(client, "london-org@example.org")
    hide(client, wall)
    for watcher in (board, screen):
        event, _ = wait_for(watcher, "gift_hidden")
        assert event == {"campaign": "tw", "id": wall}
        watcher.disconnect(namespace="/live")


def test_the_word_list_holds_a_message_until_shown(app, client, api_token, wall):
    app.config["MODERATION_WORDS"] = "rude, Awful"
    post_donation(client, api_token, city="london", donor_name="Bo", message="An AWFUL joke")
    post_donation(client, api_token, city="london", donor_name="Cy", message="awfully kind")
    cy, bo, _ada = gifts(client)
    assert bo["donor_name"] == "Bo" and bo["message"] is None          # held back
    assert cy["message"] == "awfully kind"                              # whole words only
    login(client, "london-org@example.org")
    desk = client.get("/organise/tw/london").get_data(as_text=True)
    assert "An AWFUL joke" in desk and "held for review" in desk
    hide(client, bo["id"], action="show")
    assert gifts(client)[1]["message"] == "An AWFUL joke"


def test_what_a_donor_types_is_escaped_everywhere(app, client, api_token, wall):
    post_donation(client, api_token, city="london", donor_name=SCRIPTY, message=SCRIPTY)
    login(client, "london-org@example.org")
    for path in ("/c/tw", "/c/tw/london", "/c/tw/screen", "/c/tw/london/screen",
                 "/c/tw/london/widget", "/organise/tw/london"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html, path
        if path != "/c/tw/london/widget":   # the widget shows no gifts
            assert "&lt;script&gt;alert(1)" in html or "\\u003cscript\\u003e" in html, path
