"""Update timing (issue #17): the first change after a quiet spell goes out at once; changes
that arrive while a window is open wait for its end and go out together, with no seq gaps (the
cap across processes: tests/core/test_live_windows.py and test_scaleout). The publisher's clock is held still here, so a window
can only end when the test moves it: no assertion depends on how fast the machine is."""
from __future__ import annotations

import pytest

from tests.helpers import post_donation, wait_for


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app):
    publisher = app.extensions["twestival.live"]
    publisher.clock = held = Clock()
    return held


def updates(seen) -> list[dict]:
    return [m["args"][0] for m in seen if m["name"] == "leaderboard_update"]


def row(update, slug):
    return next(r for r in update["cities"] if r["slug"] == slug)


def test_the_first_change_after_quiet_is_not_held_and_a_burst_is_coalesced(
        app, client, live, api_token, clock):
    publisher = app.extensions["twestival.live"]
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    snap, _ = wait_for(live, "leaderboard")
    post_donation(client, api_token, amount="1.00")
    # The clock stands still: no window can end, so only the leading edge can send this.
    first, seen = wait_for(live, "leaderboard_update")
    assert len(updates(seen)) == 1 and first["seq"] == snap["seq"] + 1
    assert row(first, "london")["donations"] == 1
    for n in range(5):   # inside the window that update opened
        post_donation(client, api_token, **({"city": "tokyo", "currency": "JPY", "amount": "100"}
                                            if n % 2 else {"amount": "1.00"}))
    clock.now += publisher.interval   # the window ends
    publisher.wake()
    second, seen = wait_for(live, "leaderboard_update")
    assert len(updates(seen)) == 1 and second["seq"] == first["seq"] + 1   # one, no gap
    assert row(second, "london")["donations"] == 4 and row(second, "tokyo")["donations"] == 2
    assert len(second["gifts"]) == 5
    clock.now += 10 * publisher.interval   # quiet
    post_donation(client, api_token, amount="2.00")
    third, seen = wait_for(live, "leaderboard_update")   # clock not moved: the leading edge
    assert len(updates(seen)) == 1 and third["seq"] == second["seq"] + 1
    assert row(third, "london")["donations"] == 5


def test_a_city_watcher_gets_its_updates_at_the_leading_edge_and_coalesced(
        app, client, api_token, clock):
    from twestival.extensions import socketio
    from tests.app.test_live_night import add_cities
    publisher = app.extensions["twestival.live"]
    add_cities(app)
    board = socketio.test_client(app, namespace="/live")
    screen = socketio.test_client(app, namespace="/live")
    try:
        board.emit("watch", {"campaign": "tw"}, namespace="/live")
        wait_for(board, "leaderboard")
        for city, amount in (("london", "1000.00"), ("aa", "300.00"), ("bb", "200.00"),
                             ("cc", "100.00")):   # cc ranks far from london
            post_donation(client, api_token, city=city, amount=amount)
        clock.now += publisher.interval
        publisher.wake()
        wait_for(board, "leaderboard_update", lambda u: any(
            r["slug"] == "cc" and r["raised_minor"] == 10000 for r in u["cities"]))
        screen.emit("watch", {"campaign": "tw", "city": "cc"}, namespace="/live")
        snap, _ = wait_for(screen, "leaderboard")
        clock.now += 10 * publisher.interval   # quiet
        post_donation(client, api_token, city="cc", amount="5.00", donor_name="first")
        mine, seen = wait_for(screen, "leaderboard_update")   # leading edge, clock held
        assert len(updates(seen)) == 1 and mine["seq"] == snap["seq"] + 1
        assert mine["city"] == "cc" and mine["prev_seq"] <= snap["seq"]
        assert [g["donor_name"] for g in mine["gifts"]] == ["first"]
        clock.now += publisher.interval
        post_donation(client, api_token, city="london", amount="1.00", donor_name="far")
        far, _ = wait_for(board, "leaderboard_update", lambda u: any(
            g["donor_name"] == "far" for g in u["gifts"]))
        assert far["seq"] == mine["seq"] + 1
        post_donation(client, api_token, city="cc", amount="1.00", donor_name="a")
        post_donation(client, api_token, city="cc", amount="1.00", donor_name="b")
        clock.now += publisher.interval
        publisher.wake()
        again, seen = wait_for(screen, "leaderboard_update")
        # london's gift touched neither cc nor its neighbours: the screen never got that seq,
        # and prev_seq tells it that it missed nothing.
        assert [u["seq"] for u in updates(seen)] == [again["seq"]] == [far["seq"] + 1]
        assert again["prev_seq"] == mine["seq"]
        assert sorted(g["donor_name"] for g in again["gifts"]) == ["a", "b"]
        assert row(again, "cc")["donations"] == 4
    finally:
        board.disconnect(namespace="/live")
        screen.disconnect(namespace="/live")
