"""The organiser desk's night: the city's live total, progress, rank and match; the gifts to
thank on stage with hide/show per name and message; their CSV export (formula-safe). Organisers
see only their own city; coordinators any."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from tests.helpers import post_donation, wait_for
from tests.hub_support import csrf_token, login, person
from twestival.accounts.models import Role
from twestival.extensions import db

DESK = "/organise/tw/london"
CSV_URL = "/organise/tw/london/gifts.csv"
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def desk(app, client, api_token):
    person(app, "lon@example.org", Role.organiser, city="london")
    person(app, "tok@example.org", Role.organiser, city="tokyo")
    person(app, "vol@example.org", Role.volunteer, city="london")
    person(app, "boss@example.org", Role.coordinator)
    post_donation(client, api_token, city="london", amount="25.00", donor_name="Ada Lovelace",
                  message="For the well in Kibera")
    post_donation(client, api_token, city="london", amount="100.00", donor_name="Secret Sam",
                  message="Do not read me out", anonymous=True)
    post_donation(client, api_token, city="london", amount="5.00", donor_name=FORMULA,
                  message="+cmd|' /C calc'!A0")
    post_donation(client, api_token, city="tokyo", amount="1000", currency="JPY",
                  donor_name="Yuki", message="Ganbatte")
    return client


def wall(client):
    return {g["id"]: g for g in client.get("/api/v1/campaigns/tw/gifts?city=london")
            .get_json()["gifts"]}


def gift_id(client, name):
    return next(i for i, g in wall(client).items() if g["donor_name"] == name)


def moderate(client, gid, action, with_token=True):
    data = {"action": action}
    if with_token:
        data["csrf_token"] = csrf_token(client, DESK)
    return client.post(f"{DESK}/gifts/{gid}", data=data)


def test_the_desk_shows_total_progress_rank_and_live_watch(desk):
    login(desk, "lon@example.org")
    html = desk.get(DESK).get_data(as_text=True)
    night = html[html.index('id="night"'):html.index('id="thanks"')]
    assert "£130.00" in night                       # 25 + 100 + 5, anonymous gift included
    assert "£2,500.00" in night and "5%" in night   # target and progress
    assert re.search(r'data-field="rank">1</span>\s*<span class="muted">of 3 cities', night)
    assert 'data-view="desk"' in night and 'data-city-slug="london"' in night
    assert "No match gift is running" in night
    assert 'id="board-data"' in html and "live.js" in html


def test_the_active_match_shows_on_the_desk(app, desk):
    from twestival.campaigns.service import get_campaign, get_city
    from twestival.giving import matching
    from twestival.money import Money
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        matching.create_offer(db.session, camp, sponsor="Acme Water", pot=Money(50000, "GBP"),
                              ratio=1, cities=[get_city(db.session, camp, "london")],
                              starts_at=now - dt.timedelta(hours=1),
                              ends_at=now + dt.timedelta(hours=1))
        db.session.commit()
    login(desk, "lon@example.org")
    html = desk.get(DESK).get_data(as_text=True)
    night = html[html.index('id="night"'):html.index('id="thanks"')]
    assert "doubled by Acme Water" in night and "No match gift" not in night


def test_the_thank_list_names_givers_but_never_an_anonymous_one(desk):
    login(desk, "lon@example.org")
    html = desk.get(DESK).get_data(as_text=True)
    thanks = html[html.index('id="thanks"'):]
    assert "Ada Lovelace" in thanks and "For the well in Kibera" in thanks
    assert "£100.00" in thanks and "Anonymous" in thanks
    assert "Secret Sam" not in html and "Do not read me out" not in html
    assert "Yuki" not in thanks                      # Tokyo's gift is not London's to thank


def test_hide_name_and_message_separately_then_show(desk):
    login(desk, "lon@example.org")
    ada = gift_id(desk, "Ada Lovelace")
    assert moderate(desk, ada, "hide_name").status_code == 303
    shown = wall(desk)[ada]
    assert (shown["donor_name"], shown["message"]) == (None, "For the well in Kibera")
    thanks = desk.get(DESK).get_data(as_text=True)
    assert "name hidden" in thanks and "message shown" in thanks
    assert moderate(desk, ada, "hide_message").status_code == 303
    assert (wall(desk)[ada]["donor_name"], wall(desk)[ada]["message"]) == (None, None)
    assert moderate(desk, ada, "show").status_code == 303
    assert wall(desk)[ada]["donor_name"] == "Ada Lovelace"
    assert wall(desk)[ada]["message"] == "For the well in Kibera"


def test_hiding_a_name_pushes_gift_hidden_to_the_city_watch(app, desk):
    from twestival.extensions import socketio
    screen = socketio.test_client(app, namespace="/live")
    screen.emit("watch", {"campaign": "tw", "city": "london"}, namespace="/live")
    wait_for(screen, "leaderboard")
    login(desk, "lon@example.org")
    ada = gift_id(desk, "Ada Lovelace")
    moderate(desk, ada, "hide_message")
    event, _ = wait_for(screen, "gift_hidden")
    assert event == {"campaign": "tw", "id": ada}
    screen.disconnect(namespace="/live")


def test_moderation_needs_csrf_and_the_right_person(desk):
    login(desk, "lon@example.org")
    ada = gift_id(desk, "Ada Lovelace")
    moderate(desk, ada, "hide_name", with_token=False)
    assert wall(desk)[ada]["donor_name"] == "Ada Lovelace"     # refused without the token
    desk.post("/logout", data={"csrf_token": csrf_token(desk, DESK)})
    for who in ("vol@example.org", "tok@example.org"):
        login(desk, who)
        assert moderate(desk, ada, "hide_name").status_code == 403, who
        desk.post("/logout", data={"csrf_token": csrf_token(desk, "/")})
    assert wall(desk)[ada]["donor_name"] == "Ada Lovelace"


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_export_is_formula_safe_and_keeps_anonymity(desk):
    login(desk, "lon@example.org")
    response = desk.get(CSV_URL)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    rows = read_csv(response)
    assert [r["amount"] for r in rows] == ["5.00", "100.00", "25.00"]   # newest first
    evil, anonymous, ada = rows
    assert evil["name"] == "'" + FORMULA and evil["message"].startswith("'+cmd")
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), value
            assert not value.startswith("-") or re.fullmatch(r"-?\d+(\.\d+)?", value)
    assert (anonymous["anonymous"], anonymous["name"], anonymous["message"]) == ("yes", "", "")
    assert (ada["name"], ada["name_on_wall"], ada["currency"]) == ("Ada Lovelace", "shown", "GBP")
    assert "Secret Sam" not in response.get_data(as_text=True)


@pytest.mark.parametrize("email, status", [
    (None, 302), ("vol@example.org", 403), ("tok@example.org", 403),
    ("lon@example.org", 200), ("boss@example.org", 200)])
def test_who_may_export_the_gifts(desk, email, status):
    if email:
        login(desk, email)
    response = desk.get(CSV_URL)
    assert response.status_code == status
    if status == 302:
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("email, thanks", [
    ("vol@example.org", False), ("lon@example.org", True), ("boss@example.org", True)])
def test_volunteers_see_the_total_but_not_the_thank_list(desk, email, thanks):
    login(desk, email)
    html = desk.get(DESK).get_data(as_text=True)
    assert 'id="night"' in html
    assert ('id="thanks"' in html) is thanks
    assert ("gifts.csv" in html) is thanks


def test_another_citys_organiser_gets_403_on_the_desk(desk):
    login(desk, "tok@example.org")
    assert desk.get(DESK).status_code == 403
    assert desk.get("/organise/tw/tokyo").status_code == 200


def test_a_city_not_yet_on_the_board_has_a_desk_without_live_figures(app, desk):
    from twestival.campaigns.models import CityStatus
    from twestival.campaigns.service import get_campaign, get_city
    with app.app_context():
        get_city(db.session, get_campaign(db.session, "tw"), "london").status = CityStatus.pending
        db.session.commit()
    login(desk, "lon@example.org")
    page = desk.get(DESK)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "once the city is approved" in html and 'data-view="desk"' not in html
    assert "Ada Lovelace" in html            # the gifts to thank are still listed


def test_hiding_and_showing_are_in_the_audit_log(desk):
    login(desk, "lon@example.org")
    ada = gift_id(desk, "Ada Lovelace")
    moderate(desk, ada, "hide_message")
    moderate(desk, ada, "show")
    desk.post("/logout", data={"csrf_token": csrf_token(desk, "/")})
    login(desk, "boss@example.org")
    hidden = desk.get("/coordinate/tw/audit?action=gift.hidden").get_data(as_text=True)
    shown = desk.get("/coordinate/tw/audit?action=gift.shown").get_data(as_text=True)
    assert f"gift #{ada}" in hidden and "lon@example.org" in hidden
    assert f"gift #{ada}" in shown
