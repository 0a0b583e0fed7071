"""The active-match banner rides the live board: the snapshot and every leaderboard_update
carry ``matches`` (those not over yet), so boards, city pages and venue screens redraw it when
a gift draws on the pot and when a match is set up or changed (Socket.IO test client)."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.app.test_giving_matches import gift, offer
from tests.helpers import wait_for
from tests.hub_support import csrf_token, login, person
from tests.payments import payments_app
from twestival.accounts.models import Role
from twestival.extensions import socketio


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


@pytest.fixture
def watchers(app):
    clients = []

    def watch(city=None):
        live = socketio.test_client(app, namespace="/live")
        clients.append(live)
        live.emit("watch", {"campaign": "tw", **({"city": city} if city else {})},
                  namespace="/live")
        snapshot, _ = wait_for(live, "leaderboard")
        return live, snapshot
    yield watch
    for live in clients:
        if live.is_connected("/live"):
            live.disconnect(namespace="/live")


def sponsors(update):
    return [(m["sponsor"], m["left_minor"]) for m in update["matches"]]


def test_snapshots_carry_the_matches_each_watcher_sees(app, seed, watchers):
    london = offer(app, pot=500000)
    offer(app, pot=100000, currency="EUR", cities=("berlin",))
    everywhere = offer(app, pot=20000, cities=None)
    offer(app, pot=1000, hours=(-3, -1))          # over: not sent
    _board, snap = watchers()
    assert [m["id"] for m in snap["matches"]] == [london, london + 1, everywhere]
    first = snap["matches"][0]
    assert first == {"id": london, "sponsor": "Acme", "ratio": 1, "cities": ["london"],
                     "currency": "GBP", "pot_minor": 500000, "left_minor": 500000,
                     "starts_at": first["starts_at"], "ends_at": first["ends_at"]}
    assert dt.datetime.fromisoformat(first["ends_at"].replace("Z", "+00:00")) > \
        dt.datetime.now(dt.timezone.utc)
    _screen, city_snap = watchers("london")
    assert [m["id"] for m in city_snap["matches"]] == [london, everywhere]


def test_a_gift_drawing_on_the_pot_redraws_the_banner_everywhere_it_shows(app, client, seed,
                                                                          watchers):
    offer(app, pot=500000, cities=("london", "berlin"))
    board, _ = watchers()
    london, _ = watchers("london")
    berlin, _ = watchers("berlin")
    tokyo, _ = watchers("tokyo")
    gift(client, 1, 1000)      # £10 to London, doubled
    update, _ = wait_for(board, "leaderboard_update", lambda u: sponsors(u) == [("Acme", 499000)])
    assert update["gifts"][0]["matched"] is True
    mine, _ = wait_for(london, "leaderboard_update", lambda u: sponsors(u) == [("Acme", 499000)])
    assert mine["city"] == "london"
    # Berlin got no money, but its banner shows the same pot: it hears of it too.
    theirs, _ = wait_for(berlin, "leaderboard_update")
    assert theirs["city"] == "berlin" and sponsors(theirs) == [("Acme", 499000)]
    time.sleep(0.5)
    assert all(m["args"][0].get("city") != "tokyo" or m["args"][0]["matches"] == []
               for m in tokyo.get_received("/live") if m["name"] == "leaderboard_update")


def test_setting_up_and_changing_a_match_is_pushed_without_any_gift(app, client, seed, watchers):
    person(app, "org@example.org", Role.organiser, city="london")
    board, snap = watchers()
    london, city_snap = watchers("london")
    berlin, _ = watchers("berlin")
    assert snap["matches"] == [] and city_snap["matches"] == []
    # The first push after a start sends every row; a gift to Tokyo gets it out of the way.
    gift(client, 0, 1000, city="tokyo", currency="jpy")
    warm, _ = wait_for(board, "leaderboard_update")
    time.sleep(0.5)
    for watcher in (board, london, berlin):
        watcher.get_received("/live")
    login(client, "org@example.org")
    now = dt.datetime.now(dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(0)))
    form = {"csrf_token": csrf_token(client, "/"), "sponsor": "<b>Acme</b> & Co", "pot": "50",
            "ratio": "1", "starts_at": (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}
    # London is on UTC in winter and an hour ahead in summer: the window holds now either way.
    assert client.post("/organise/tw/london/matches", data=form).status_code == 303
    update, _ = wait_for(board, "leaderboard_update", lambda u: u["matches"])
    [made] = update["matches"]
    assert (made["sponsor"], made["pot_minor"], made["cities"]) == ("<b>Acme</b> & Co", 5000,
                                                                    ["london"])
    assert update["seq"] > warm["seq"] and update["cities"] == []   # no money moved
    mine, _ = wait_for(london, "leaderboard_update", lambda u: u["matches"])
    assert mine["matches"] == [made] and mine["seq"] == update["seq"]
    time.sleep(0.5)
    assert [m for m in berlin.get_received("/live") if m["name"] == "leaderboard_update"
            and m["args"][0].get("city") == "berlin"] == []
    assert client.post(f"/organise/tw/london/matches/{made['id']}",
                       data={**form, "pot": "80"}).status_code == 303
    changed, _ = wait_for(london, "leaderboard_update",
                          lambda u: [m["pot_minor"] for m in u["matches"]] == [8000])
    assert changed["matches"][0]["left_minor"] == 8000
