"""Organisers set up and change match gifts for their own city from the desk
(/organise/<campaign>/<city>/matches): in the city's currency and local time, 1:1 or 2:1,
never for another city; every change is in the audit log."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.hub_support import csrf_token, login, person
from tests.payments import payments_app
from twestival.accounts.models import Role, User
from twestival.audit.models import AuditEntry
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.giving.matching import MatchOffer, create_offer
from twestival.money import Money

UTC = dt.timezone.utc
PEOPLE = {"coord@example.org": (Role.coordinator, None),
          "org@example.org": (Role.organiser, "london"),
          "berlin@example.org": (Role.organiser, "berlin"),
          "vol@example.org": (Role.volunteer, "london")}
FORM = {"sponsor": "Acme Brewing", "pot": "5,000", "ratio": "1",
        "starts_at": "2027-02-12T21:00", "ends_at": "2027-02-12T22:00"}


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


@pytest.fixture
def people(app, seed):
    for email, (role, city) in PEOPLE.items():
        person(app, email, role, city=city)


def an_offer(app, cities=("london",), spent=0, pot=100000, currency="GBP"):
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        made = create_offer(db.session, camp, sponsor="Someone Else", pot=Money(pot, currency),
                            ratio=1, cities=[get_city(db.session, camp, c) for c in cities]
                            if cities else None,
                            starts_at=dt.datetime(2027, 2, 12, 20, tzinfo=UTC),
                            ends_at=dt.datetime(2027, 2, 12, 23, tzinfo=UTC))
        made.spent_minor = spent
        db.session.commit()
        return made.id


def offers(app):
    with app.app_context():
        rows = [(o.sponsor, o.pot_minor, o.currency, o.ratio, o.cities, o.starts_at, o.ends_at)
                for o in db.session.scalars(select(MatchOffer).order_by(MatchOffer.id))]
        db.session.rollback()
        return rows


def audit_log(app):
    with app.app_context():
        rows = [(e.action, e.actor_id, e.subject, e.details) for e in
                db.session.scalars(select(AuditEntry).where(AuditEntry.action.like("match.%"))
                                   .order_by(AuditEntry.id))]
        db.session.rollback()
        return rows


def post(client, path, headers=None, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, "/"), **FORM, **data},
                       headers=headers or {})


@pytest.mark.parametrize("who, status", [
    (None, 302), ("vol@example.org", 403), ("berlin@example.org", 403),
    ("org@example.org", 200), ("coord@example.org", 200)])
def test_who_may_open_and_use_a_city_s_match_desk(app, client, people, who, status):
    own = an_offer(app)
    if who:
        login(client, who)
    for path in ("/organise/tw/london/matches", f"/organise/tw/london/matches/{own}"):
        response = client.get(path)
        assert response.status_code == status, path
        if status == 302:
            assert "/login" in response.headers["Location"]
    before = offers(app)
    created = post(client, "/organise/tw/london/matches")
    changed = post(client, f"/organise/tw/london/matches/{own}", sponsor="Changed")
    if status == 200:
        assert (created.status_code, changed.status_code) == (303, 303)
        assert len(offers(app)) == 2 and offers(app)[0][0] == "Changed"
    else:
        assert (created.status_code, changed.status_code) == (status, status)
        assert offers(app) == before and audit_log(app) == []


def test_an_organiser_sets_up_a_match_in_the_city_s_currency_and_time(app, client, people):
    login(client, "org@example.org")
    response = post(client, "/organise/tw/london/matches", ratio="2")
    assert response.status_code == 303
    [made] = offers(app)
    # 21:00 in London in February is 21:00 UTC; the pot is in pounds whatever is typed.
    assert made == ("Acme Brewing", 500000, "GBP", 2, ["london"],
                    dt.datetime(2027, 2, 12, 21, tzinfo=UTC), dt.datetime(2027, 2, 12, 22, tzinfo=UTC))
    [(action, actor, subject, details)] = audit_log(app)
    assert action == "match.created" and subject.startswith("match ")
    assert details["pot_minor"] == 500000 and details["cities"] == ["london"]
    with app.app_context():
        assert actor == db.session.scalar(select(User.id).where(User.email == "org@example.org"))
    page = client.get("/organise/tw/london/matches").get_data(as_text=True)
    assert "Acme Brewing" in page and "2:1" in page and "£5,000.00" in page
    assert "Match gifts" in client.get("/organise/tw/london").get_data(as_text=True)


def test_the_city_s_local_time_is_used(app, client, people):
    login(client, "berlin@example.org")
    # The pot as the organiser's language writes it (German here).
    assert post(client, "/organise/tw/berlin/matches", pot="1.000,50",
                headers={"Accept-Language": "de"}).status_code == 303
    [made] = offers(app)
    assert made[1:3] == (100050, "EUR")
    assert made[5] == dt.datetime(2027, 2, 12, 20, tzinfo=UTC)   # 21:00 in Berlin


def test_an_organiser_never_touches_another_city_s_match(app, client, people):
    berlin = an_offer(app, cities=("berlin",), currency="EUR")
    shared = an_offer(app, cities=("london", "berlin"))
    everywhere = an_offer(app, cities=None)
    login(client, "org@example.org")
    before = offers(app)
    for offer_id in (berlin, shared, everywhere):
        path = f"/organise/tw/london/matches/{offer_id}"
        assert client.get(path).status_code == 404
        assert post(client, path, sponsor="Mine now").status_code == 404
    assert post(client, f"/organise/tw/berlin/matches/{berlin}").status_code == 403
    assert post(client, "/organise/tw/berlin/matches").status_code == 403
    assert offers(app) == before and audit_log(app) == []
    # The shared and campaign-wide ones are shown on London's desk, not offered for change.
    page = client.get("/organise/tw/london/matches").get_data(as_text=True)
    assert page.count("set up by the coordinators") == 2
    assert f"/matches/{shared}" not in page and f"/matches/{berlin}" not in page


def test_changing_a_match_is_audited_and_never_below_what_is_drawn(app, client, people):
    own = an_offer(app, spent=40000)
    login(client, "org@example.org")
    form = client.get(f"/organise/tw/london/matches/{own}").get_data(as_text=True)
    assert 'value="Someone Else"' in form and 'value="1,000"' in form
    assert 'value="2027-02-12T20:00"' in form          # shown in London's time
    low = post(client, f"/organise/tw/london/matches/{own}", pot="300")
    assert low.status_code == 422
    page = low.get_data(as_text=True)
    assert "cannot be less than gifts have already drawn" in page and "£400.00" in page
    assert 'value="300"' in page                        # what was typed is kept
    assert offers(app)[0][1] == 100000
    assert post(client, f"/organise/tw/london/matches/{own}", pot="400",
                sponsor="Acme", ends_at="2027-02-12T23:30").status_code == 303
    [changed] = offers(app)
    assert changed[:2] == ("Acme", 40000) and changed[6] == dt.datetime(2027, 2, 12, 23, 30, tzinfo=UTC)
    [(action, _actor, _subject, details)] = audit_log(app)
    assert action == "match.edited"
    assert details["before"]["sponsor"] == "Someone Else" and details["after"]["sponsor"] == "Acme"
    assert details["before"]["pot_minor"] == 100000 and details["after"]["pot_minor"] == 40000


@pytest.mark.parametrize("field, value, message", [
    ("sponsor", "  ", "Please give the sponsor"), ("pot", "1.2.3", "Please give the pot"),
    ("pot", "0", "Please give the pot"), ("ratio", "3", "1:1 or 2:1"),
    ("starts_at", "tomorrow", "date and a time"),
    ("ends_at", "2027-02-12T20:59", "end after it starts")])
def test_mistakes_are_shown_at_the_field_with_everything_kept(app, client, people, field, value,
                                                              message):
    login(client, "org@example.org")
    response = post(client, "/organise/tw/london/matches", **{field: value})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and f'id="{field}-error"' in page
    assert 'value="Acme Brewing"' in page or field == "sponsor"
    assert offers(app) == [] and audit_log(app) == []


def test_names_are_escaped_on_the_desk(app, client, people):
    login(client, "org@example.org")
    post(client, "/organise/tw/london/matches", sponsor="<script>alert(1)</script>")
    page = client.get("/organise/tw/london/matches").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_every_match_form_refuses_a_post_without_csrf_token(app, client, people):
    own = an_offer(app)
    login(client, "org@example.org")
    for path in ("/organise/tw/london/matches", f"/organise/tw/london/matches/{own}"):
        assert client.post(path, data={**FORM, "sponsor": "No token"}).status_code == 400
        assert client.post(path, data={**FORM, "csrf_token": "forged"}).status_code == 400
    assert [o[0] for o in offers(app)] == ["Someone Else"]


def test_a_coordinator_s_match_is_audited_too(app, client, people):
    login(client, "coord@example.org")
    response = client.post("/coordinate/tw/matches", data={
        "csrf_token": csrf_token(client, "/"), "sponsor": "Acme", "pot": "5000",
        "currency": "EUR", "ratio": "1", "cities": ["berlin"], "starts_at": "2027-02-12T21:00",
        "ends_at": "2027-02-12T22:00", "timezone": "Europe/Berlin"})
    assert response.status_code == 303
    [(action, _actor, _subject, details)] = audit_log(app)
    assert action == "match.created" and details["cities"] == ["berlin"]
    assert "match gift set up" in client.get("/coordinate/tw/audit").get_data(as_text=True)
