"""The /live namespace through Flask-SocketIO's test client."""
import time

from tests.helpers import post_donation, wait_for


def watch(live, campaign="tw"):
    live.emit("watch", {"campaign": campaign}, namespace="/live")
    snapshot, _ = wait_for(live, "leaderboard")
    return snapshot


def test_watch_gets_a_snapshot(live, seed):
    snap = watch(live)
    assert snap["campaign"] == "tw" and snap["currency"] == "GBP"
    assert snap["seq"] == 0 and snap["total_raised_minor"] == 0
    assert {r["slug"] for r in snap["cities"]} == {"london", "tokyo", "berlin"}


def test_watch_refuses_unknown_or_malformed(live, seed):
    live.emit("watch", {"campaign": "nope"}, namespace="/live")
    error, _ = wait_for(live, "error")
    assert "no campaign" in error["error"]
    live.emit("watch", "tw", namespace="/live")
    error, _ = wait_for(live, "error")
    assert "campaign" in error["error"]


def test_update_after_post_with_rising_seq(client, live, api_token):
    snap = watch(live)
    post_donation(client, api_token, city="tokyo", amount="3000", currency="JPY")
    first, _ = wait_for(live, "leaderboard_update", lambda u: any(
        r["slug"] == "tokyo" and r["raised_minor"] == 3000 for r in u["cities"]))
    assert first["campaign"] == "tw" and first["seq"] == snap["seq"] + 1
    time.sleep(0.3)   # next update falls in a new coalescing window
    post_donation(client, api_token, city="london", amount="5.00")
    second, _ = wait_for(live, "leaderboard_update", lambda u: any(
        r["slug"] == "london" and r["raised_minor"] == 500 for r in u["cities"]))
    assert second["seq"] == first["seq"] + 1
    tokyo = next(r for r in first["cities"] if r["slug"] == "tokyo")
    assert set(tokyo) >= {"slug", "name", "currency", "target_minor", "raised_minor",
                          "raised_reporting_minor", "donations", "rank"}
    assert second["total_raised_minor"] == 500 + tokyo["raised_reporting_minor"]


def test_rejected_donation_pushes_nothing(client, live, api_token):
    watch(live)
    assert post_donation(client, api_token, amount="-1").status_code == 422
    time.sleep(0.6)
    assert [m["name"] for m in live.get_received("/live")] == []


def test_burst_is_coalesced_and_ends_on_the_last_state(client, live, api_token):
    watch(live)
    started = time.monotonic()
    for i in range(30):
        post_donation(client, api_token, city="london", amount="1.00", key=f"burst-{i}")
    elapsed = time.monotonic() - started
    last, seen = wait_for(live, "leaderboard_update", lambda u: any(
        r["slug"] == "london" and r["raised_minor"] == 3000 for r in u["cities"]))
    updates = [m["args"][0] for m in seen if m["name"] == "leaderboard_update"]
    # At most 4 a second (plus the one that opens the first window).
    assert len(updates) <= 2 + int(elapsed * 4) + 1
    assert len(updates) < 30
    seqs = [u["seq"] for u in updates]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert next(r for r in last["cities"] if r["slug"] == "london")["donations"] == 30


def test_overtaken_city_is_in_the_update(client, live, api_token):
    """ROW carries its rank, and the update carries the changed rows (DESIGN.md): a city
    overtaken changed, though no money touched it."""
    watch(live)
    post_donation(client, api_token, city="london", amount="250.00")     # london 10%, rank 1
    wait_for(live, "leaderboard_update", lambda u: any(r["slug"] == "london" for r in u["cities"]))
    time.sleep(0.3)
    post_donation(client, api_token, city="tokyo", amount="90000", currency="JPY")  # tokyo 30%
    update, _ = wait_for(live, "leaderboard_update", lambda u: any(
        r["slug"] == "tokyo" for r in u["cities"]))
    ranks = {r["slug"]: r["rank"] for r in update["cities"]}
    assert ranks["tokyo"] == 1 and ranks["london"] == 2   # london moved without new money


def test_progress_history_is_recorded_by_the_publisher(client, live, api_token):
    watch(live)
    assert client.get("/api/v1/campaigns/tw/history").get_json()["points"] == []
    post_donation(client, api_token, amount="7.00")
    wait_for(live, "leaderboard_update")
    points = client.get("/api/v1/campaigns/tw/history").get_json()["points"]
    assert len(points) == 1 and points[0][1] == 700
    assert b'id="history-data"' in client.get("/c/tw").data


def test_first_change_after_a_quiet_spell_goes_out_at_once_then_the_window_coalesces(
        database_url, api_token):
    """Leading edge: nothing was sent within the interval, so the first change is pushed at once
    (not after the interval); changes inside the window wait and go out together."""
    from tests.conftest import make_app
    from twestival.extensions import socketio
    app = make_app(database_url, LIVE_UPDATES_PER_SECOND=0.01)   # one update per 100 s
    publisher = app.extensions["twestival.live"]
    now = [1000.0]
    publisher.clock = lambda: now[0]   # held: only the test ends the window
    try:
        live = socketio.test_client(app, namespace="/live")
        snap = watch(live)
        client = app.test_client()
        post_donation(client, api_token, city="london", amount="1.00")
        first, _ = wait_for(live, "leaderboard_update")   # well before the 100 s window
        assert first["seq"] == snap["seq"] + 1
        post_donation(client, api_token, city="london", amount="2.00")
        post_donation(client, api_token, city="berlin", amount="3.00", currency="EUR")
        now[0] += publisher.interval   # the window ends; drain() honours it (the cap)
        assert publisher.drain()
        second, seen = wait_for(live, "leaderboard_update")
        assert [m["name"] for m in seen] == ["leaderboard_update"]   # one update for both
        assert second["seq"] == first["seq"] + 1
        rows = {r["slug"]: r for r in second["cities"]}
        assert rows["london"]["raised_minor"] == 300 and rows["berlin"]["raised_minor"] == 300
        live.disconnect(namespace="/live")
    finally:
        app.extensions["twestival.live"].stop()
