"""Who may do what on the organiser and coordinator desks: every route against every kind of
visitor, and no reading or writing across cities (pages, API, live namespace)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from twestival.accounts.models import Role
from twestival.campaigns import applications
from twestival.campaigns.models import CityStatus
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.ledger.models import LedgerEntry
from twestival.streams import cash

from tests.helpers import post_donation, wait_for
from tests.hub_support import APPLICATION, cash_body, csrf_token, login, person, post_cash

ANON, VOLUNTEER, OTHER_CITY, ORGANISER, COORDINATOR = (
    "anonymous", "volunteer", "organiser of another city", "organiser of the city", "coordinator")
EMAILS = {VOLUNTEER: "vol@example.org", OTHER_CITY: "tokyo-org@example.org",
          ORGANISER: "london-org@example.org", COORDINATOR: "coord@example.org"}
LOGIN = "login"   # expected: 302 to /login

# Every organiser and coordinator route. {entry_a} is a London cash entry, {paris} and {rome}
# pending applications. Expected status per visitor; POSTs carry a valid CSRF token and a
# valid body, so an allowed visitor succeeds and a refused one changes nothing.
MATRIX = [
    # method, path,                                  body,                   anon,  vol, other, org, coord
    ("GET", "/organise", None,                                               LOGIN, 200, 200, 200, 200),
    ("GET", "/organise/tw/london", None,                                     LOGIN, 200, 403, 200, 200),
    ("POST", "/organise/tw/london/page", {"venue": "The Hall"},              LOGIN, 403, 403, 302, 302),
    ("GET", "/organise/tw/london/cash", None,                                LOGIN, 200, 403, 200, 200),
    ("JSON", "/organise/tw/london/cash", "cash",                             LOGIN, 201, 403, 201, 201),
    ("POST", "/organise/tw/london/cash/{entry_a}/reverse", {"reason": "miscounted"},
                                                                             LOGIN, 403, 403, 303, 303),
    ("GET", "/coordinate/tw", None,                                          LOGIN, 403, 403, 403, 200),
    ("POST", "/coordinate/tw/cities/{paris}/approve", {},                    LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/cities/{rome}/reject", {"reason": "too late"},  LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/cash/{entry_b}/confirm", {},                    LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/people", {"email": "new@example.org", "name": "New", "role": "volunteer",
                                       "city": "london"},                    LOGIN, 403, 403, 403, 303),
]
VISITORS = (ANON, VOLUNTEER, OTHER_CITY, ORGANISER, COORDINATOR)


@pytest.fixture
def hub(app, seed):
    person(app, EMAILS[VOLUNTEER], Role.volunteer, city="london")
    person(app, EMAILS[OTHER_CITY], Role.organiser, city="tokyo")
    person(app, EMAILS[ORGANISER], Role.organiser, city="london")
    person(app, EMAILS[COORDINATOR], Role.coordinator)
    with app.app_context():
        camp = get_campaign(db.session, seed)
        london, tokyo = get_city(db.session, camp, "london"), get_city(db.session, camp, "tokyo")
        ids = {}
        for name in ("paris", "rome"):
            data = {k: v for k, v in APPLICATION.items() if k in (
                "country", "currency", "timezone", "target", "applicant_name")}
            row = applications.submit(db.session, camp, applications.Application(
                city_name=name.title(), applicant_email=f"{name}@example.org", **data))
            ids[name] = row.city.slug
        for label, city in (("entry_a", london), ("entry_b", london), ("tokyo_entry", tokyo)):
            body = cash_body(currency=city.currency, amount="2500" if city is tokyo else "25.00")
            ids[label] = cash.record_count(db.session, city, cash.parse_count(
                json.dumps(body).encode()), by_user_id=None).entry.id
        db.session.commit()
    return ids


def _request(client, method, path, body, token):
    if method == "GET":
        return client.get(path)
    if method == "JSON":
        return post_cash(client, token, cash_body())
    return client.post(path, data=dict(body, csrf_token=token))


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_route_answers_each_visitor_as_expected(app, client, hub, visitor):
    if visitor != ANON:
        login(client, EMAILS[visitor])
    token = csrf_token(client, "/")
    wrong = []
    for method, path, body, *expected in MATRIX:
        want = dict(zip(VISITORS, expected))[visitor]
        url = path.format(**hub)
        response = _request(client, method, url, body, token)
        if want == LOGIN:
            ok = response.status_code == 302 and response.location.startswith("/login")
        else:
            ok = response.status_code == want
        if not ok:
            wrong.append(f"{method} {url}: wanted {want}, got {response.status_code} "
                         f"{response.location or ''}")
    assert not wrong, "\n".join(wrong)


def test_refused_visitors_change_nothing(app, client, hub):
    login(client, EMAILS[OTHER_CITY])
    token = csrf_token(client, "/")
    for method, path, body, *_ in MATRIX:
        _request(client, method, path.format(**hub), body, token)
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        london = get_city(db.session, camp, "london")
        assert london.venue is None
        assert get_city(db.session, camp, hub["paris"]).status is CityStatus.pending
        assert get_city(db.session, camp, hub["rome"]).status is CityStatus.pending
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.city_id == london.id)) == 2


def test_an_organiser_cannot_reach_another_citys_entry_through_their_own_city(app, client, hub):
    login(client, EMAILS[ORGANISER])
    token = csrf_token(client, "/")
    response = client.post(f"/organise/tw/london/cash/{hub['tokyo_entry']}/reverse",
                           data={"reason": "not ours", "csrf_token": token})
    assert response.status_code == 404
    assert post_cash(client, token, cash_body(currency="JPY", amount="100"),
                     city="tokyo").status_code == 403
    with app.app_context():
        tokyo = get_city(db.session, get_campaign(db.session, "tw"), "tokyo")
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)
                                 .where(LedgerEntry.city_id == tokyo.id)) == 1


def test_the_same_offline_key_in_two_cities_is_two_entries(app, client, hub):
    """Keys are scoped to their city: one city's key can neither collide with nor reveal
    another's entry."""
    login(client, EMAILS[COORDINATOR])
    token = csrf_token(client, "/")
    body = cash_body(key="shared-key-123")
    first = post_cash(client, token, body, city="london")
    second = post_cash(client, token, dict(body, currency="EUR"), city="berlin")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json["id"] != second.json["id"]


def test_a_city_token_cannot_post_to_another_city(app, client, hub):
    from twestival.accounts.service import create_token
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        _row, secret = create_token(db.session, camp, get_city(db.session, camp, "london"))
        db.session.commit()
    refused = post_donation(client, secret, city="tokyo", currency="JPY", amount="500")
    assert refused.status_code == 403
    assert "error" in refused.json
    assert post_donation(client, secret, city="london").status_code == 201


def test_the_live_namespace_shows_only_public_data(app, client, hub, live):
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    snapshot, _ = wait_for(live, "leaderboard")
    login(client, EMAILS[ORGANISER])
    post_cash(client, csrf_token(client, "/"), cash_body(counted_by="Secret Counter",
                                                           witness="Hidden Witness"))
    text = json.dumps(snapshot)
    assert {row["slug"] for row in snapshot["cities"]} == {"london", "tokyo", "berlin"}
    for private in ("paris@example.org", "TW-PARIS", "Secret Counter", "Hidden Witness",
                    hub["paris"], "door box", "@example.org"):
        assert private not in text
    update, _ = wait_for(live, "leaderboard_update")
    assert "Secret Counter" not in json.dumps(update)
    # And the JSON API's leaderboard is the same public view.
    api = client.get("/api/v1/campaigns/tw/leaderboard").get_data(as_text=True)
    assert "@example.org" not in api and hub["paris"] not in api


def test_a_pending_city_has_no_public_page(client, hub):
    assert client.get(f"/c/tw/{hub['paris']}").status_code == 404
    assert "Paris" not in client.get("/c/tw").get_data(as_text=True)


CSRF_FORMS = [
    "/organise/tw/london/page", "/organise/tw/london/cash/{entry_a}/reverse",
    "/coordinate/tw/cities/{paris}/approve", "/coordinate/tw/cities/{rome}/reject",
    "/coordinate/tw/cash/{entry_b}/confirm", "/coordinate/tw/people", "/c/tw/apply", "/login",
    "/logout", "/forgot-password", "/language", "/set-password/whatever",
]


def test_every_form_refuses_a_post_without_csrf_token(app, client, hub):
    login(client, EMAILS[COORDINATOR])
    for path in CSRF_FORMS:
        response = client.post(path.format(**hub), data={"reason": "x", "venue": "x"})
        assert response.status_code == 400, path
    refused = client.post("/organise/tw/london/cash", json=cash_body(),
                          headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "CSRF" in refused.json["error"]
    wrong_token = post_cash(client, "not-a-token", cash_body())
    assert wrong_token.status_code == 400
    with app.app_context():
        assert get_city(db.session, get_campaign(db.session, "tw"), hub["paris"]).status \
            is CityStatus.pending
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 3
