"""Update timing (issue #17): the first change after a quiet spell goes out at once; changes
that arrive while a window is open wait for its end and go out together, with no seq gaps; the
cap holds per campaign across processes. The publisher's clock is held still here, so a window
can only end when the test moves it: no assertion depends on how fast the machine is."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests import services
from tests.app.test_scaleout import Watcher, http_json, processes, seed_campaign  # noqa: F401
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


@pytest.mark.services
def test_across_processes_the_first_change_goes_out_at_once_and_the_window_is_shared(
        tmp_path, processes):
    """Two app processes on one Redis (a private one: no other test's windows). The window
    is 100 s, so an update that arrives within the test came from a leading edge; ending the
    window is deleting its key, which is what its expiry does."""
    import redis as redis_client
    from twestival.live.queue import SharedWindows
    redis = services.RedisServer(tmp_path)
    redis.start()
    try:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        env = {"TWESTIVAL_DATABASE_URL": url, "TWESTIVAL_REDIS_URL": redis.url,
               "TWESTIVAL_SECRET_KEY": "s", "TWESTIVAL_LIVE_UPDATES_PER_SECOND": "0.01"}
        subprocess.run([sys.executable, "-c", "from twestival.cli import main; main()", "db",
                        "upgrade"], check=True, env={**os.environ, **env}, cwd=services.ROOT,
                       capture_output=True, timeout=120)
        token = seed_campaign(url)   # campaign tw, id 1
        first = processes({**env, "TWESTIVAL_SCHEDULER": "off"})
        second = processes({**env, "TWESTIVAL_SCHEDULER": "off"})
        watchers = [Watcher(first.base, "tw"), Watcher(second.base, "tw")]

        def give(process, n):
            assert http_json(process.base + "/api/v1/campaigns/tw/cities/london/donations",
                             "POST", {"amount": "1.00", "currency": "GBP"},
                             {"Authorization": f"Bearer {token}",
                              "Idempotency-Key": f"edge-{n}"})[0] == 201
        def waited(process):
            """Until the process has been refused the window (its /metrics counts it)."""
            import urllib.request
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with urllib.request.urlopen(process.base + "/metrics", timeout=10) as response:
                    text = response.read().decode()
                counts = [float(line.split()[1]) for line in text.splitlines()
                          if line.startswith("twestival_live_windows_waited_total ")]
                if counts and counts[0] >= 1:
                    return
                time.sleep(0.05)
            raise AssertionError(f"the second process never waited for the window: {counts}")

        try:
            start = watchers[0].snapshots[0]["seq"]
            give(first, 1)
            for w in watchers:   # the leading edge, to both processes' watchers
                w.wait(lambda w=w: w.updates)
            window = f"{SharedWindows.PREFIX}1"
            assert redis_client.Redis.from_url(redis.url).pttl(window) > 0
            give(second, 2)   # inside the first process's window: held, not sent
            waited(second)
            redis_client.Redis.from_url(redis.url).delete(window)   # the window ends
            give(second, 3)   # wakes the second process, which now takes the window
            for w in watchers:
                w.wait(lambda w=w: w.updates[-1]["total_raised_minor"] == 300)
        finally:
            for w in watchers:
                w.close()
        for w in watchers:   # two updates for three gifts from two processes; no gaps
            assert [u["seq"] for u in w.updates] == [start + 1, start + 2]
            assert [len(u["gifts"]) for u in w.updates] == [1, 2]
    finally:
        redis.stop()
