"""The rolling night, city watchers, the widget's framing and the share card."""
import datetime as dt
import io
import time

from PIL import Image

from twestival.accounts.models import Role

from tests.helpers import post_donation, wait_for
from tests.hub_support import csrf_token, login, person


def add_cities(app):
    from twestival.campaigns.service import add_city, get_campaign
    from twestival.extensions import db
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        for slug in ("aa", "bb", "cc"):
            add_city(db.session, camp, slug, name=slug.upper(), country="GB", currency="GBP",
                     timezone="Europe/London", target="1000.00")
        db.session.commit()


def test_a_city_watcher_gets_only_what_touches_its_city(app, client, api_token):
    from twestival.extensions import socketio
    add_cities(app)
    board = socketio.test_client(app, namespace="/live")
    screen = socketio.test_client(app, namespace="/live")
    try:
        board.emit("watch", {"campaign": "tw"}, namespace="/live")
        wait_for(board, "leaderboard")
        for city, amount in (("london", "1000.00"), ("aa", "300.00"), ("bb", "200.00"),
                             ("cc", "100.00")):
            post_donation(client, api_token, city=city, amount=amount, donor_name=city)
        wait_for(board, "leaderboard_update", lambda u: any(
            r["slug"] == "cc" and r["raised_minor"] == 10000 for r in u["cities"]))
        screen.emit("watch", {"campaign": "tw", "city": "cc"}, namespace="/live")
        snap, _ = wait_for(screen, "leaderboard")
        assert snap["city"] == "cc" and [g["city"] for g in snap["gifts"]] == ["cc"]
        time.sleep(0.3)
        post_donation(client, api_token, city="london", amount="10.00", donor_name="far away")
        far, _ = wait_for(board, "leaderboard_update", lambda u: any(
            g["donor_name"] == "far away" for g in u["gifts"]))
        time.sleep(0.3)
        post_donation(client, api_token, city="cc", amount="5.00", donor_name="near")
        mine, seen = wait_for(screen, "leaderboard_update")
        assert far["seq"] not in [m["args"][0]["seq"] for m in seen
                                  if m["name"] == "leaderboard_update"]
        assert mine["city"] == "cc" and mine["seq"] > far["seq"]
        assert mine["prev_seq"] <= snap["seq"]   # nothing for this city was missed
        assert [r["slug"] for r in mine["cities"]] == ["cc", "bb", "berlin"]  # itself, neighbours
        assert [g["donor_name"] for g in mine["gifts"]] == ["near"]
        time.sleep(0.3)
        post_donation(client, api_token, city="cc", amount="5.00", donor_name="again")
        again, _ = wait_for(screen, "leaderboard_update")
        assert again["prev_seq"] == mine["seq"]
    finally:
        board.disconnect(namespace="/live")
        screen.disconnect(namespace="/live")


def test_rows_carry_the_night_in_utc_and_organisers_set_it(app, client, seed):
    rows = client.get("/api/v1/campaigns/tw/leaderboard").get_json()["cities"]
    assert all(r["starts_at"] is None and r["ends_at"] is None for r in rows)
    assert {r["slug"]: r["timezone"] for r in rows}["tokyo"] == "Asia/Tokyo"
    person(app, "tokyo-org@example.org", Role.organiser, city="tokyo")
    login(client, "tokyo-org@example.org")
    token = csrf_token(client, "/organise/tw/tokyo")
    response = client.post("/organise/tw/tokyo/page", data={
        "csrf_token": token, "starts_at_local": "2027-02-12T20:00"})
    assert response.status_code == 302
    tokyo = next(r for r in client.get("/api/v1/campaigns/tw/leaderboard").get_json()["cities"]
                 if r["slug"] == "tokyo")
    assert (tokyo["starts_at"], tokyo["ends_at"]) == ("2027-02-12T11:00:00Z", "2027-02-12T16:00:00Z")
    client.post("/organise/tw/tokyo/page", data={
        "csrf_token": token, "starts_at_local": "2027-02-12T20:00",
        "ends_at_local": "2027-02-13T01:30"})
    tokyo = next(r for r in client.get("/api/v1/campaigns/tw/leaderboard").get_json()["cities"]
                 if r["slug"] == "tokyo")
    assert tokyo["ends_at"] == "2027-02-12T16:30:00Z"
    page = client.get("/c/tw/tokyo").get_data(as_text=True)
    assert "Fri, Feb 12, 8:00\u202fPM in Tokyo" in page   # the city's own time, no seconds
    bad = client.post("/organise/tw/tokyo/page", data={
        "csrf_token": token, "starts_at_local": "2027-02-12T20:00",
        "ends_at_local": "2027-02-12T19:00"})
    assert bad.status_code == 422 and "end must come after" in bad.get_data(as_text=True)


def test_the_demo_always_has_cities_ended_live_and_to_come(app):
    from twestival.campaigns.night import window
    from twestival.demo import ensure_campaign
    from twestival.extensions import db
    with app.app_context():
        for hour in (0, 7, 13, 23):
            camp = ensure_campaign(db.session)
            from twestival.demo import spread_the_night
            now = dt.datetime(2027, 2, 12, hour, 20, tzinfo=dt.timezone.utc)
            spread_the_night(db.session, camp, now)
            phases = set()
            for city in camp.cities:
                start, end = window(city.starts_at_local, city.ends_at_local, city.timezone)
                phases.add("upcoming" if now < start else "live" if now < end else "ended")
            assert phases == {"upcoming", "live", "ended"}, hour
        db.session.rollback()


def test_only_the_widget_may_be_framed_elsewhere(client, seed):
    widget = client.get("/c/tw/tokyo/widget")
    assert widget.status_code == 200
    assert "frame-ancestors *" in widget.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in widget.headers
    assert 'href="http://localhost/c/tw/tokyo/donate"' in widget.get_data(as_text=True)
    for path in ("/c/tw", "/c/tw/tokyo", "/c/tw/tokyo/screen"):
        page = client.get(path)
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]


def test_share_card_and_tags(client, api_token):
    page = client.get("/c/tw/london").get_data(as_text=True)
    assert '<meta property="og:image" content="http://localhost/c/tw/london/card.png">' in page
    assert 'name="twitter:card" content="summary_large_image"' in page
    assert 'property="og:image"' in client.get("/c/tw").get_data(as_text=True)
    first = client.get("/c/tw/london/card.png")
    assert first.status_code == 200 and first.mimetype == "image/png"
    assert Image.open(io.BytesIO(first.data)).size == (1200, 630)
    post_donation(client, api_token, city="london", amount="99.00")
    # Within the minute the same card is served: previews cost one drawing a minute.
    assert client.get("/c/tw/london/card.png").data == first.data
    assert client.get("/c/tw/nowhere/card.png").status_code == 404
