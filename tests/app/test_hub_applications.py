"""Applying to join, approval and rejection by a coordinator, invitations and password resets,
each with the mails it sends (read from the outbox)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from twestival.accounts.models import Membership, Role, User
from twestival.campaigns.applications import CityApplication
from twestival.campaigns.models import CityStatus
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db

from tests.helpers import wait_for
from tests.hub_support import PASSWORD, apply, csrf_token, link_in, login, outbox, person


def _city(app, slug):
    with app.app_context():
        city = get_city(db.session, get_campaign(db.session, "tw"), slug)
        db.session.expunge(city)
        return city


def test_an_application_makes_a_pending_city_and_tells_the_applicant(app, client, seed):
    response = apply(client)
    assert response.status_code == 200
    assert "amelie@example.org" in response.get_data(as_text=True)
    city = _city(app, "paris")
    assert city.status is CityStatus.pending
    assert (city.currency, city.timezone, city.country) == ("EUR", "Europe/Paris", "FR")
    assert city.target_minor == 150000
    assert city.starts_at_local == dt.datetime(2027, 2, 12, 19, 30)
    assert (city.venue, city.ticket_url, city.bank_reference) == (
        "Le Bar", "https://tickets.example.org/paris", "TW-PARIS")
    with app.app_context():
        row = db.session.scalar(select(CityApplication))
        assert (row.applicant_name, row.applicant_email) == ("Amélie", "amelie@example.org")
    [mail] = outbox(app, "amelie@example.org")
    assert "Paris" in mail.subject
    assert "Paris" not in client.get("/c/tw").get_data(as_text=True)


def test_a_second_application_for_the_same_city_name_gets_its_own_slug(app, client, seed):
    apply(client)
    apply(client, applicant_email="other@example.org")
    assert _city(app, "paris-2").status is CityStatus.pending


def test_bad_applications_are_refused_with_a_message_and_nothing_written(app, client, seed):
    for field, value, message in [
        ("target", "12.345", "at most 2 decimal places"),
        ("ticket_url", "javascript:alert(1)", "web address"),
        ("applicant_email", "not-an-email", "email"),
        ("currency", "XXQ", "Not a valid choice"),
        ("timezone", "Mars/Olympus", "Not a valid choice"),
        ("city_name", "", "This field is required"),
    ]:
        response = apply(client, **{field: value})
        assert response.status_code == 422, field
        assert message in response.get_data(as_text=True), field
    with app.app_context():
        assert db.session.scalar(select(CityApplication)) is None
    assert outbox(app) == []


def test_the_application_form_is_rate_limited(app, client, seed):
    app.config["APPLY_RATE_LIMIT"] = "3 per hour"
    statuses = [apply(client, city_name=f"Town {n}").status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_login_is_rate_limited(app, client, seed):
    token = csrf_token(client)
    # A different account each time: one account alone would hit its own throttle first.
    statuses = [client.post("/login", data={"email": f"x{n}@example.org", "password": "wrong",
                                            "csrf_token": token}).status_code
                for n in range(11)]
    assert statuses[:10] == [400] * 10 and statuses[10] == 429


def test_approval_puts_the_city_on_the_board_and_invites_the_applicant(app, client, seed, live):
    apply(client)
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    wait_for(live, "leaderboard")
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    desk = client.get("/coordinate/tw").get_data(as_text=True)
    assert "Amélie" in desk and "Come <strong>along</strong>!" in desk
    response = client.post("/coordinate/tw/cities/paris/approve",
                           data={"csrf_token": csrf_token(client, "/coordinate/tw")})
    assert response.status_code == 303
    assert _city(app, "paris").status is CityStatus.approved
    update, _ = wait_for(live, "leaderboard_update",
                         lambda u: any(r["slug"] == "paris" for r in u["cities"]))
    assert next(r for r in update["cities"] if r["slug"] == "paris")["raised_minor"] == 0
    assert "Paris" in client.get("/c/tw").get_data(as_text=True)
    assert client.get("/c/tw/paris").status_code == 200

    approved = outbox(app, "amelie@example.org")[-1]
    assert "approved" in approved.subject
    link = link_in(approved.body, "/set-password/")
    # The applicant follows the link, chooses a password and lands at their city's desk.
    applicant = app.test_client()
    page = applicant.get(link)
    assert page.status_code == 200
    done = applicant.post(link, data={"password": PASSWORD, "confirm": PASSWORD,
                                      "csrf_token": csrf_token(applicant, link)})
    assert done.status_code == 302
    assert applicant.get("/organise/tw/paris").status_code == 200
    assert applicant.get(link).status_code == 400          # a used link stops working
    # Deciding twice is refused.
    again = client.post("/coordinate/tw/cities/paris/reject",
                        data={"reason": "x", "csrf_token": csrf_token(client, "/coordinate/tw")})
    assert again.status_code == 409


def test_rejection_needs_a_reason_and_mails_it(app, client, seed):
    apply(client)
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    token = csrf_token(client, "/coordinate/tw")
    refused = client.post("/coordinate/tw/cities/paris/reject", data={"reason": " ",
                                                                      "csrf_token": token})
    assert refused.status_code == 422
    assert _city(app, "paris").status is CityStatus.pending
    response = client.post("/coordinate/tw/cities/paris/reject",
                           data={"reason": "Paris already has a night.", "csrf_token": token})
    assert response.status_code == 303
    assert _city(app, "paris").status is CityStatus.rejected
    mail = outbox(app, "amelie@example.org")[-1]
    assert "Paris already has a night." in mail.body
    assert "/set-password/" not in mail.body
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "amelie@example.org")) is None
    assert client.get("/c/tw/paris").status_code == 404


def test_a_coordinator_invites_a_volunteer_who_can_then_record_cash_only(app, client, seed):
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    response = client.post("/coordinate/tw/people", data={
        "email": "Vol@Example.org", "name": "Val", "role": "volunteer", "city": "london",
        "csrf_token": csrf_token(client, "/coordinate/tw")})
    assert response.status_code == 303
    [mail] = outbox(app, "vol@example.org")
    link = link_in(mail.body, "/set-password/")
    volunteer = app.test_client()
    volunteer.post(link, data={"password": PASSWORD, "confirm": PASSWORD,
                               "csrf_token": csrf_token(volunteer, link)})
    assert volunteer.get("/organise/tw/london/cash").status_code == 200
    assert volunteer.get("/organise/tw/tokyo/cash").status_code == 403
    assert volunteer.get("/coordinate/tw").status_code == 403
    with app.app_context():
        [membership] = db.session.scalars(select(Membership).join(User).where(
            User.email == "vol@example.org")).all()
        assert membership.role is Role.volunteer


def test_a_person_can_hold_roles_in_two_campaigns(app, client, seed):
    from twestival.campaigns.service import add_city, create_campaign
    with app.app_context():
        other = create_campaign(db.session, "tw2", name="Second", currency="EUR")
        add_city(db.session, other, "rome", name="Rome", country="IT", currency="EUR",
                 timezone="Europe/Rome", target="100.00")
        db.session.commit()
    person(app, "both@example.org", Role.organiser, city="london")
    with app.app_context():
        from twestival.accounts.service import find_user, grant
        camp = get_campaign(db.session, "tw2")
        grant(db.session, find_user(db.session, "both@example.org"), Role.coordinator, camp)
        db.session.commit()
    login(client, "both@example.org")
    assert client.get("/organise/tw/london").status_code == 200
    assert client.get("/coordinate/tw2").status_code == 200
    assert client.get("/coordinate/tw").status_code == 403
    desks = client.get("/organise").get_data(as_text=True)
    assert "/organise/tw/london" in desks and "/coordinate/tw2" in desks


def test_password_reset_mails_a_link_only_to_real_accounts(app, client, seed):
    person(app, "org@example.org", Role.organiser, city="london")
    token = csrf_token(client, "/forgot-password")
    for email in ("org@example.org", "nobody@example.org"):
        response = client.post("/forgot-password", data={"email": email, "csrf_token": token})
        assert response.status_code == 200
        assert "If an account exists" in response.get_data(as_text=True)
    assert outbox(app, "nobody@example.org") == []
    [mail] = outbox(app, "org@example.org")
    link = link_in(mail.body, "/set-password/")
    new = "a brand new password"
    client.post(link, data={"password": new, "confirm": new, "csrf_token": csrf_token(client, link)})
    fresh = app.test_client()
    refused = fresh.post("/login", data={"email": "org@example.org", "password": PASSWORD,
                                         "csrf_token": csrf_token(fresh)})
    assert refused.status_code == 400
    login(fresh, "org@example.org", new)


def test_user_create_prints_a_set_password_link(app, runner, seed):
    result = runner.invoke(args=["user", "create", "cli@example.org", "--name", "Cli",
                                 "--role", "organiser", "--campaign", "tw", "--city", "london"])
    assert result.exit_code == 0, result.output
    assert "/set-password/" in result.output


def test_set_password_links_expire_after_seven_days(app, client, seed):
    import time_machine
    person(app, "org@example.org", Role.organiser, city="london")
    start = dt.datetime(2027, 1, 1, 12, tzinfo=dt.timezone.utc)
    with time_machine.travel(start, tick=False):
        client.post("/forgot-password", data={"email": "org@example.org",
                                              "csrf_token": csrf_token(client, "/forgot-password")})
        link = link_in(outbox(app, "org@example.org")[-1].body, "/set-password/")
    with time_machine.travel(start + dt.timedelta(days=6, hours=23), tick=False):
        assert client.get(link).status_code == 200
    with time_machine.travel(start + dt.timedelta(days=7, minutes=1), tick=False):
        assert client.get(link).status_code == 400
