"""The coordinator's exchange rates and API tokens pages: who may use them, CSRF, entering a
rate and fixing the campaign's rates in the browser, the missing-rate flags, and revoking
tokens in the browser and on the command line (a revoked token gets 401)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import func, select

from twestival.accounts.models import ApiToken, Role
from twestival.accounts.service import create_token
from twestival.campaigns.models import Campaign
from twestival.campaigns.service import add_city, get_campaign, get_city
from twestival.extensions import db
from twestival.ledger.models import FxRate

from tests.helpers import post_donation
from tests.hub_support import APPLICATION, csrf_token, login, person

TODAY = dt.datetime.now(dt.timezone.utc).date()
COORDINATOR, ORGANISER, VOLUNTEER = "coord@example.org", "org@example.org", "vol@example.org"


@pytest.fixture
def hub(app, seed):
    person(app, COORDINATOR, Role.coordinator)
    person(app, ORGANISER, Role.organiser, city="london")
    person(app, VOLUNTEER, Role.volunteer, city="london")
    with app.app_context():
        camp = get_campaign(db.session, seed)
        add_city(db.session, camp, "nairobi", name="Nairobi", country="KE", currency="KES",
                 timezone="Africa/Nairobi", target="100000.00")
        row, secret = create_token(db.session, camp, get_city(db.session, camp, "london"),
                                   label="Till")
        db.session.commit()
        return {"token": row.id, "secret": secret, "prefix": row.prefix}


def rate_form(**overrides):
    form = {"currency": "KES", "rate": "140.25", "day": TODAY.isoformat(),
            "source": "Central Bank of Kenya"}
    form.update(overrides)
    return form


ROUTES = [
    ("GET", "/coordinate/tw/rates", None),
    ("POST", "/coordinate/tw/rates", rate_form()),
    ("POST", "/coordinate/tw/rates/policy", {"policy": "fixed", "fixed_on": "2026-12-01"}),
    ("GET", "/coordinate/tw/tokens", None),
    ("POST", "/coordinate/tw/tokens/{token}/label", {"label": "Door"}),
    ("POST", "/coordinate/tw/tokens/{token}/revoke", {"reason": "leaked"}),
]


def _send(client, method, path, body, token):
    if method == "GET":
        return client.get(path)
    return client.post(path, data=dict(body, csrf_token=token))


def entered_rates(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(FxRate)
                                 .where(FxRate.source == "entered"))


def token_row(app, token_id):
    with app.app_context():
        row = db.session.get(ApiToken, token_id)
        db.session.expunge(row)
        return row


@pytest.mark.parametrize("visitor", [None, VOLUNTEER, ORGANISER])
def test_only_coordinators_reach_rates_and_tokens(app, client, hub, visitor):
    if visitor:
        login(client, visitor)
    token = csrf_token(client, "/")
    for method, path, body in ROUTES:
        response = _send(client, method, path.format(**hub), body, token)
        if visitor is None:
            assert response.status_code == 302 and response.location.startswith("/login"), path
        else:
            assert response.status_code == 403, path
    assert entered_rates(app) == 0
    row = token_row(app, hub["token"])
    assert (row.label, row.revoked_at) == ("Till", None)
    with app.app_context():
        assert get_campaign(db.session, "tw").fx_fixed_on is None


def test_a_coordinator_uses_every_route(app, client, hub):
    login(client, COORDINATOR)
    token = csrf_token(client, "/")
    for method, path, body in ROUTES:
        response = _send(client, method, path.format(**hub), body, token)
        assert response.status_code == (200 if method == "GET" else 303), path


def test_every_new_form_refuses_a_post_without_csrf_token(app, client, hub):
    login(client, COORDINATOR)
    for _method, path, body in (r for r in ROUTES if r[0] == "POST"):
        assert client.post(path.format(**hub), data=body).status_code == 400, path
    assert entered_rates(app) == 0
    assert token_row(app, hub["token"]).revoked_at is None


def test_a_city_without_a_rate_is_flagged_until_a_coordinator_enters_one(app, client, hub):
    login(client, COORDINATOR)
    desk = client.get("/coordinate/tw").get_data(as_text=True)
    assert 'id="missing-rates"' in desk and 'data-city="nairobi"' in desk
    page = client.get("/coordinate/tw/rates").get_data(as_text=True)
    # KES, the currency stopping a city, is offered first; GBP is the ECB's: nothing to enter.
    assert 'class="no-rate"' in page and '<option selected value="KES">' in page
    assert not re.search(r'<option[^>]*value="GBP"', page)
    token = csrf_token(client, "/coordinate/tw/rates")

    for bad, reason in [({"rate": "1e3"}, "decimal number such as 140.25"),
                        ({"rate": "0.00"}, "more than zero"), ({"source": ""}, "This field is required"),
                        ({"currency": "GBP"}, "Not a valid choice")]:
        refused = client.post("/coordinate/tw/rates", data=dict(rate_form(**bad), csrf_token=token))
        assert refused.status_code == 422 and reason in refused.get_data(as_text=True), bad
    assert entered_rates(app) == 0

    entered = client.post("/coordinate/tw/rates", data=dict(rate_form(), csrf_token=token))
    assert entered.status_code == 303
    again = client.post("/coordinate/tw/rates", data=dict(rate_form(rate="141"), csrf_token=token))
    assert again.status_code == 422 and "already has a rate" in again.get_data(as_text=True)
    page = client.get("/coordinate/tw/rates").get_data(as_text=True)
    assert "entered: Central Bank of Kenya" in page and COORDINATOR in page
    assert 'class="no-rate"' not in page
    assert 'id="missing-rates"' not in client.get("/coordinate/tw").get_data(as_text=True)
    with app.app_context():
        row = db.session.get(FxRate, ("KES", TODAY))
        assert (row.per_eur, row.note, row.entered_by) == ("140.25", "Central Bank of Kenya",
                                                          COORDINATOR)


def test_the_application_form_flags_currencies_without_a_rate(app, client, hub):
    form = client.get("/c/tw/apply").get_data(as_text=True)
    assert 'value="KES">KES · Kenyan Shilling (no exchange rate yet)' in form
    assert 'value="GBP">GBP · British Pound</option>' in form
    token = csrf_token(client, "/c/tw/apply")
    bad = dict(APPLICATION, currency="KES", target="", csrf_token=token)
    answer = client.post("/c/tw/apply", data=bad).get_data(as_text=True)
    assert "There is no exchange rate for KES yet" in answer
    with app.app_context():
        from twestival.ledger.fx import enter_rate
        enter_rate(db.session, "KES", "140.25", TODAY, "CBK")
        db.session.commit()
    assert "(no exchange rate yet)" not in client.get("/c/tw/apply").get_data(as_text=True).split(
        'value="KES"')[1].split("</option>")[0]


def test_fixing_the_rates_shows_on_the_statement(app, client, hub):
    login(client, COORDINATOR)
    token = csrf_token(client, "/coordinate/tw/rates")
    missing_day = client.post("/coordinate/tw/rates/policy",
                              data={"policy": "fixed", "fixed_on": "", "csrf_token": token})
    assert missing_day.status_code == 422
    assert "Choose the day" in missing_day.get_data(as_text=True)
    assert client.post("/coordinate/tw/rates/policy", data={
        "policy": "fixed", "fixed_on": "2024-04-30", "csrf_token": token}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Campaign.fx_fixed_on)) == dt.date(2024, 4, 30)
    post_donation(client, hub["secret"], city="london", amount="10.00", currency="USD")
    page = client.get("/coordinate/tw/statement").get_data(as_text=True)
    assert "every gift converted at the rates of 2024-04-30" in page
    [row] = list(csv.DictReader(io.StringIO(
        client.get("/coordinate/tw/statement?format=csv").get_data(as_text=True))))
    assert row["rate_policy"] == "fixed 2024-04-30"
    assert row["rates_used"].endswith("GBP/USD of 2024-04-30 (1)")
    assert client.post("/coordinate/tw/rates/policy", data={
        "policy": "daily", "fixed_on": "", "csrf_token": token}).status_code == 303
    assert "each gift converted at the rates of its own day" in client.get(
        "/coordinate/tw/statement").get_data(as_text=True)


def test_a_token_revoked_in_the_browser_gets_401(app, client, hub):
    assert post_donation(client, hub["secret"], city="london").status_code == 201
    login(client, COORDINATOR)
    page = client.get("/coordinate/tw/tokens").get_data(as_text=True)
    assert f"<code>{hub['prefix']}…</code>" in page and 'value="Till"' in page
    assert hub["secret"] not in page
    token = csrf_token(client, "/coordinate/tw/tokens")
    client.post(f"/coordinate/tw/tokens/{hub['token']}/label",
                data={"label": "Ticket till", "csrf_token": token})
    client.post(f"/coordinate/tw/tokens/{hub['token']}/revoke",
                data={"reason": "laptop stolen", "csrf_token": token})
    refused = post_donation(client, hub["secret"], city="london")
    assert refused.status_code == 401 and "revoked" in refused.get_json()["error"]
    row = token_row(app, hub["token"])
    assert (row.label, row.revoked_by, row.revoke_reason) == (
        "Ticket till", COORDINATOR, "laptop stolen")
    page = client.get("/coordinate/tw/tokens").get_data(as_text=True)
    assert "revoked" in page and "laptop stolen" in page


def test_token_revoke_on_the_command_line(app, client, runner, hub):
    with app.app_context():
        _row, other = create_token(db.session, get_campaign(db.session, "tw"))
        db.session.commit()
    too_short = runner.invoke(args=["token", "revoke", "tw", "tw_"])
    assert too_short.exit_code == 2 and "at least the first 6" in too_short.output
    unknown = runner.invoke(args=["token", "revoke", "tw", "tw_zzzzzzz"])
    assert unknown.exit_code == 2 and "no live token" in unknown.output
    both = runner.invoke(args=["token", "revoke", "tw", hub["prefix"], "--all"])
    assert both.exit_code == 2
    one = runner.invoke(args=["token", "revoke", "tw", hub["prefix"], "--reason", "rotated"])
    assert one.exit_code == 0 and hub["prefix"] in one.output
    assert post_donation(client, hub["secret"], city="london").status_code == 401
    assert post_donation(client, other, city="london").status_code == 201
    every = runner.invoke(args=["token", "revoke", "tw", "--all"])
    assert every.exit_code == 0 and other[:10] in every.output
    assert post_donation(client, other, city="london").status_code == 401
    row = token_row(app, hub["token"])
    assert (row.revoked_by, row.revoke_reason) == ("command line", "rotated")
