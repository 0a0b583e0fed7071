"""Coordinators' admin in the browser's HTTP: campaigns, cities, people, and the audit log
that records every change to money or standing (append-only, like the ledger)."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from twestival.accounts.models import Membership, Role, User
from twestival.audit.models import AuditEntry
from twestival.campaigns import applications
from twestival.campaigns.models import Campaign, CityStatus
from twestival.campaigns.service import create_campaign, get_campaign, get_city
from twestival.extensions import db
from twestival.ledger import NewEntry, record
from twestival.ledger.models import LedgerEntry
from twestival.money import Money
from twestival.streams import cash

from tests.hub_support import (APPLICATION, cash_body, csrf_token, login, outbox,
                               person)

COORD, ORGANISER, VOLUNTEER, OTHER_COORD = ("coord@example.org", "org@example.org",
                                            "vol@example.org", "elsewhere@example.org")


def _apply(session, camp, name, country="FR", email=None):
    data = {k: v for k, v in APPLICATION.items() if k in ("currency", "timezone", "target",
                                                          "applicant_name")}
    return applications.submit(session, camp, applications.Application(
        city_name=name, country=country, applicant_email=email or f"{name.lower()}@example.org",
        **data)).city.slug


@pytest.fixture
def hub(app, seed):
    ids = {"coord": person(app, COORD, Role.coordinator),
           "organiser": person(app, ORGANISER, Role.organiser, city="london"),
           "volunteer": person(app, VOLUNTEER, Role.volunteer, city="london")}
    with app.app_context():
        create_campaign(db.session, "other", name="Other", currency="EUR")
        db.session.commit()
    ids["other_coord"] = person(app, OTHER_COORD, Role.coordinator, campaign="other")
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        london = get_city(db.session, camp, "london")
        for name in ("Paris", "Rome", "Oslo"):
            ids[name.lower()] = _apply(db.session, camp, name)
        ids["entry"] = cash.record_count(db.session, london, cash.parse_count(
            json.dumps(cash_body()).encode()), by_user_id=None).entry.id
        ids["unassigned"] = record(db.session, NewEntry(
            campaign_id=camp.id, city_id=None, stream="adjustment", external_id="loose-1",
            amount=Money(1500, "GBP"))).entry.id
        ids["organiser_role"] = db.session.scalar(select(Membership.id).where(
            Membership.user_id == ids["organiser"]))
        db.session.commit()
    return ids


def _audit(app, action=None):
    with app.app_context():
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def _post(client, path, **data):
    return client.post(path, data=dict(data, csrf_token=csrf_token(client, "/")))


# --- authorisation -------------------------------------------------------------------------

LOGIN = "login"
# method, path, body, anonymous, volunteer, organiser, coordinator of another campaign, coordinator
NEW_ROUTES = [
    ("GET", "/coordinate/tw/audit", {}, LOGIN, 403, 403, 403, 200),
    ("GET", "/coordinate/tw/settings", {}, LOGIN, 403, 403, 403, 200),
    ("POST", "/coordinate/tw/settings", {"name": "Renamed"}, LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/settings/state", {"state": "closed"}, LOGIN, 403, 403, 403, 303),
    ("GET", "/coordinate/tw/cities/london/edit", {}, LOGIN, 403, 403, 403, 200),
    ("POST", "/coordinate/tw/cities/london/edit",
     {"name": "London", "target": "3000.00", "currency": "GBP", "timezone": "Europe/London"},
     LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/cities/berlin/withdraw", {"reason": "no venue"},
     LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/applications/approve", {"city": "{paris}"},
     LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/people/{organiser_role}/resend", {}, LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/accounts/{volunteer}/deactivate", {}, LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/accounts/{volunteer}/reactivate", {}, LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/people/{organiser_role}/remove", {}, LOGIN, 403, 403, 403, 303),
]
VISITORS = ("anonymous", "volunteer", "organiser", "other campaign's coordinator", "coordinator")
VISITOR_EMAILS = dict(zip(VISITORS[1:], (VOLUNTEER, ORGANISER, OTHER_COORD, COORD)))


@pytest.mark.parametrize("visitor", VISITORS)
def test_new_routes_answer_each_visitor_as_expected(app, client, hub, visitor):
    if visitor != "anonymous":
        login(client, VISITOR_EMAILS[visitor])
    token = csrf_token(client, "/")
    wrong = []
    for method, path, body, *expected in NEW_ROUTES:
        want = dict(zip(VISITORS, expected))[visitor]
        url = path.format(**hub)
        data = {k: v.format(**hub) for k, v in body.items()}
        response = (client.get(url) if method == "GET"
                    else client.post(url, data=dict(data, csrf_token=token)))
        ok = (response.status_code == 302 and response.location.startswith("/login")
              if want == LOGIN else response.status_code == want)
        if not ok:
            wrong.append(f"{method} {url}: wanted {want}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_campaign_creation_is_for_coordinators_only(app, client, hub):
    new = {"name": "Mine", "slug": "mine", "currency": "EUR"}
    assert client.get("/campaigns/new").location.startswith("/login")
    assert _post(client, "/campaigns/new", **new).location.startswith("/login")
    for email in (ORGANISER, VOLUNTEER):
        login(client, email)
        assert client.get("/campaigns/new").status_code == 403
        assert _post(client, "/campaigns/new", **new).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campaign).where(
            Campaign.slug == "mine")) == 0


@pytest.mark.parametrize("path", ["/coordinate/tw/settings/state", "/coordinate/tw/settings",
                                  "/coordinate/tw/cities/london/edit", "/campaigns/new",
                                  "/coordinate/tw/people/{organiser_role}/remove",
                                  "/coordinate/tw/people/{organiser_role}/resend",
                                  "/coordinate/tw/cities/berlin/withdraw",
                                  "/coordinate/tw/applications/approve",
                                  "/coordinate/tw/accounts/{volunteer}/deactivate"])
def test_new_forms_refuse_a_post_without_csrf_token(app, client, hub, path):
    login(client, COORD)
    response = client.post(path.format(**hub), data={"state": "closed", "reason": "x",
                                                     "city": hub["paris"]})
    assert response.status_code == 400
    # only the fixture's own setup is in the log
    assert {r.action for r in _audit(app)} == {"role.granted", "campaign.created"}


# --- the audit log -------------------------------------------------------------------------

def test_each_audited_action_leaves_exactly_one_row(app, client, hub):
    login(client, COORD)
    before = len(_audit(app))
    steps = [
        ("cash.confirmed", f"/coordinate/tw/cash/{hub['entry']}/confirm", {}),
        ("money.assigned", f"/coordinate/tw/unassigned/{hub['unassigned']}",
         {"city": "london"}),
        ("city.approved", f"/coordinate/tw/cities/{hub['paris']}/approve", {}),
        ("city.rejected", f"/coordinate/tw/cities/{hub['rome']}/reject", {"reason": "too late"}),
        ("city.withdrawn", "/coordinate/tw/cities/berlin/withdraw", {"reason": "no venue"}),
        ("city.edited", "/coordinate/tw/cities/london/edit",
         {"name": "London", "target": "3000.00", "currency": "GBP", "timezone": "Europe/London",
          "reason": "bigger venue"}),
        ("campaign.edited", "/coordinate/tw/settings", {"name": "Twestival 2027"}),
        ("campaign.closed", "/coordinate/tw/settings/state", {"state": "closed"}),
        ("campaign.opened", "/coordinate/tw/settings/state", {"state": "open"}),
        ("role.granted", "/coordinate/tw/people",
         {"email": "new@example.org", "name": "New", "role": "volunteer", "city": "tokyo"}),
        ("role.removed", f"/coordinate/tw/people/{hub['organiser_role']}/remove", {}),
        ("account.deactivated", f"/coordinate/tw/accounts/{hub['volunteer']}/deactivate", {}),
        ("account.reactivated", f"/coordinate/tw/accounts/{hub['volunteer']}/reactivate", {}),
    ]
    for action, path, data in steps:
        response = _post(client, path, **data)
        assert response.status_code in (302, 303), (action, response.status_code,
                                                    response.get_data(as_text=True)[:2000])
        rows = _audit(app)[before:]
        # approving also grants the applicant the organiser role: one row each
        want = [action, "role.granted"] if action == "city.approved" else [action]
        assert [r.action for r in rows] == want, action
        assert rows[0].actor_id == hub["coord"]
        before += len(rows)
    reversed_ = _audit(app, "city.edited")[0]
    assert reversed_.reason == "bigger venue"
    assert reversed_.details == {"target": ["2500.00", "3000.00"]}


def test_reversing_cash_and_creating_a_token_are_audited(app, client, hub, runner):
    login(client, ORGANISER)
    response = _post(client, f"/organise/tw/london/cash/{hub['entry']}/reverse", reason="miscounted")
    assert response.status_code == 303
    [row] = _audit(app, "cash.reversed")
    assert (row.actor_id, row.reason, row.subject) == (hub["organiser"], "miscounted",
                                                       f"entry {hub['entry']}")
    assert runner.invoke(args=["token", "create", "tw", "--label", "till"]).exit_code == 0
    [token] = _audit(app, "token.created")
    assert token.actor_id is None and token.details == {"label": "till"}


def test_audit_record_is_one_line_for_other_modules(app, seed):
    from twestival import audit
    with app.app_context():
        camp = get_campaign(db.session, seed)
        audit.record(db.session, None, "token.revoked", subject="token tw_abc…",
                     campaign_id=camp.id)
        with pytest.raises(ValueError):
            audit.record(db.session, None, "made.up", subject="x")
        db.session.commit()
    assert [r.action for r in _audit(app)][-1:] == ["token.revoked"]
    assert len(_audit(app, "token.revoked")) == 1


def test_the_audit_log_refuses_update_and_delete(app, hub):
    with app.app_context():
        db.session.execute(sa.text(
            "INSERT INTO audit_entry (at, action, subject) VALUES (CURRENT_TIMESTAMP, "
            "'city.edited', 'London')"))
        db.session.commit()
        for statement in ("UPDATE audit_entry SET reason = 'rewritten'",
                          "DELETE FROM audit_entry"):
            with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) >= 1


def test_coordinators_filter_the_log_by_action_city_and_person(app, client, hub):
    login(client, COORD)
    _post(client, f"/coordinate/tw/cash/{hub['entry']}/confirm")
    _post(client, "/coordinate/tw/cities/berlin/withdraw", reason="no venue found")
    page = client.get("/coordinate/tw/audit?action=city.withdrawn").get_data(as_text=True)
    assert "no venue found" in page and 'data-action="cash.confirmed"' not in page
    page = client.get("/coordinate/tw/audit?city=london").get_data(as_text=True)
    assert 'data-action="cash.confirmed"' in page and 'data-action="city.withdrawn"' not in page
    page = client.get("/coordinate/tw/audit?person=nobody-here").get_data(as_text=True)
    assert 'data-action="' not in page.split("<tbody>")[1]
    page = client.get("/coordinate/tw/audit?person=coord@").get_data(as_text=True)
    assert page.count('data-action="') >= 2
    # another campaign's log shows none of it
    login(client, OTHER_COORD)
    page = client.get("/coordinate/other/audit").get_data(as_text=True)
    assert 'data-action="cash.confirmed"' not in page and 'data-action="city.withdrawn"' not in page


# --- campaigns -----------------------------------------------------------------------------

def test_a_coordinator_creates_a_campaign_and_coordinates_it(app, client, hub):
    login(client, COORD)
    response = _post(client, "/campaigns/new", name="Twestival 2028", slug="tw-2028",
                     currency="USD", event_date="2028-02-10", charity="Water for all")
    assert response.status_code == 303 and response.location == "/coordinate/tw-2028"
    assert client.get("/coordinate/tw-2028").status_code == 200
    again = _post(client, "/campaigns/new", name="Again", slug="tw-2028", currency="USD")
    assert again.status_code == 422 and "already exists" in again.get_data(as_text=True)
    assert [r.action for r in _audit(app)[-2:]] == ["campaign.created", "role.granted"]


def test_a_closed_campaign_takes_no_applications(app, client, hub):
    login(client, COORD)
    _post(client, "/coordinate/tw/settings/state", state="closed")
    from tests.hub_support import apply
    response = apply(client, city_name="Lisbon")
    assert response.status_code == 422 and "closed" in response.get_data(as_text=True)
    _post(client, "/coordinate/tw/settings/state", state="open")
    assert apply(client, city_name="Lisbon").status_code == 200


# --- cities --------------------------------------------------------------------------------

def test_editing_a_city_changes_its_details(app, client, hub):
    login(client, COORD)
    response = _post(client, "/coordinate/tw/cities/tokyo/edit", name="Tōkyō", target="500000",
                     currency="JPY", timezone="Asia/Tokyo", venue="Shibuya Hall",
                     ticket_url="https://tickets.example.org/tokyo")
    assert response.status_code == 303
    with app.app_context():
        tokyo = get_city(db.session, get_campaign(db.session, "tw"), "tokyo")
        assert (tokyo.name, tokyo.target_minor, tokyo.venue) == ("Tōkyō", 500000, "Shibuya Hall")
    bad = _post(client, "/coordinate/tw/cities/tokyo/edit", name="Tokyo", target="-5",
                currency="JPY", timezone="Asia/Tokyo", ticket_url="javascript:alert(1)")
    assert bad.status_code == 422


def test_the_currency_cannot_change_once_money_has_arrived(app, client, hub):
    login(client, COORD)
    refused = _post(client, "/coordinate/tw/cities/london/edit", name="London", target="2500.00",
                    currency="EUR", timezone="Europe/London")
    assert refused.status_code == 422
    assert "can no longer change" in refused.get_data(as_text=True)
    allowed = _post(client, "/coordinate/tw/cities/berlin/edit", name="Berlin", target="2000.00",
                    currency="CHF", timezone="Europe/Berlin")
    assert allowed.status_code == 303
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        assert get_city(db.session, camp, "london").currency == "GBP"
        assert get_city(db.session, camp, "berlin").currency == "CHF"


def test_a_withdrawn_city_keeps_its_money_in_the_ledger_and_statement(app, client, hub):
    login(client, COORD)
    assert _post(client, "/coordinate/tw/cities/london/withdraw",
                 reason="venue cancelled").status_code == 303
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        london = get_city(db.session, camp, "london")
        assert london.status is CityStatus.withdrawn
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.city_id == london.id)) == 1
    assert "London" in client.get("/coordinate/tw/statement").get_data(as_text=True)
    assert "London" not in client.get("/c/tw").get_data(as_text=True)
    again = _post(client, "/coordinate/tw/cities/london/withdraw", reason="twice")
    assert again.status_code == 303 and len(_audit(app, "city.withdrawn")) == 1


def test_bulk_approval_approves_every_ticked_application_in_one_post(app, client, hub):
    login(client, COORD)
    token = csrf_token(client, "/coordinate/tw")
    response = client.post("/coordinate/tw/applications/approve", data={
        "csrf_token": token, "city": [hub["paris"], hub["rome"], hub["oslo"]]})
    assert response.status_code == 303
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        assert {get_city(db.session, camp, hub[n]).status for n in ("paris", "rome", "oslo")} \
            == {CityStatus.approved}
    assert len(_audit(app, "city.approved")) == 3
    assert len([m for m in outbox(app) if "approved" in m.subject]) == 3
    none = client.post("/coordinate/tw/applications/approve", data={"csrf_token": token})
    assert none.status_code == 422


def test_bulk_approval_is_all_or_nothing(app, client, hub):
    login(client, COORD)
    token = csrf_token(client, "/coordinate/tw")
    response = client.post("/coordinate/tw/applications/approve", data={
        "csrf_token": token, "city": [hub["paris"], "london"]})
    assert response.status_code == 422
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        assert get_city(db.session, camp, hub["paris"]).status is CityStatus.pending
    assert _audit(app, "city.approved") == []


def test_a_second_application_for_a_city_is_flagged_beside_the_existing_one(app, client, hub):
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        slug = _apply(db.session, camp, "london", country="GB", email="second@example.org")
        db.session.commit()
    login(client, COORD)
    page = client.get("/coordinate/tw").get_data(as_text=True)
    article = page.split(f'data-city="{slug}"')[1].split("</article>")[0]
    assert 'data-duplicate-of="london"' in article
    paris = page.split(f'data-city="{hub["paris"]}"')[1].split("</article>")[0]
    assert "data-duplicate-of" not in paris


def test_the_cities_table_is_searched_filtered_and_sorted_on_the_server(app, client, hub):
    login(client, COORD)

    def cities(query):
        page = client.get(f"/coordinate/tw?{query}").get_data(as_text=True)
        table = page.split('id="cities"')[1].split("</table>")[0]
        return [part.split('"')[0] for part in table.split('<tr data-city="')[1:]]

    assert cities("q=lon") == ["london"]
    assert cities("state=pending") == sorted([hub["oslo"], hub["paris"], hub["rome"]])
    assert cities("country=JP") == ["tokyo"]
    assert cities("sort=name&desc=1")[:2] == ["tokyo", hub["rome"]]
    assert cities("state=approved&sort=target") == ["berlin", "london", "tokyo"]
    assert "london" in cities("behind=1")
    assert cities("sort=nonsense&state=bogus")[0] == "berlin"


# --- people --------------------------------------------------------------------------------

def test_removing_a_role_takes_the_desk_away(app, client, hub):
    login(client, COORD)
    assert _post(client, f"/coordinate/tw/people/{hub['organiser_role']}/remove").status_code == 303
    other = app.test_client()
    login(other, ORGANISER)
    assert other.get("/organise/tw/london").status_code == 403


def test_the_last_coordinator_cannot_be_removed_or_deactivated(app, client, hub):
    login(client, COORD)
    with app.app_context():
        role = db.session.scalar(select(Membership.id).where(Membership.user_id == hub["coord"]))
    _post(client, f"/coordinate/tw/people/{role}/remove")
    assert client.get("/coordinate/tw").status_code == 200
    assert _audit(app, "role.removed") == []


def test_deactivating_an_account_ends_its_sessions(app, client, hub):
    volunteer = app.test_client()
    login(volunteer, VOLUNTEER)
    assert volunteer.get("/organise/tw/london/cash").status_code == 200
    login(client, COORD)
    assert _post(client, f"/coordinate/tw/accounts/{hub['volunteer']}/deactivate").status_code == 303
    response = volunteer.get("/organise/tw/london/cash")
    assert response.status_code == 302 and response.location.startswith("/login")
    response = volunteer.post("/login", data={"email": VOLUNTEER, "password": "correct horse battery",
                                              "csrf_token": csrf_token(volunteer)})
    assert response.status_code == 400
    _post(client, f"/coordinate/tw/accounts/{hub['coord']}/deactivate")
    with app.app_context():
        assert db.session.get(User, hub["coord"]).active


def test_an_account_that_works_elsewhere_is_not_deactivated_from_here(app, client, hub):
    person(app, "both@example.org", Role.coordinator, campaign="other")
    with app.app_context():
        from twestival.accounts.service import find_user, grant
        user = find_user(db.session, "both@example.org")
        grant(db.session, user, Role.volunteer, get_campaign(db.session, "tw"),
              get_city(db.session, get_campaign(db.session, "tw"), "tokyo"))
        db.session.commit()
        user_id = user.id
    login(client, COORD)
    _post(client, f"/coordinate/tw/accounts/{user_id}/deactivate")
    with app.app_context():
        assert db.session.get(User, user_id).active


def test_resending_an_invitation_makes_no_second_account(app, client, hub):
    login(client, COORD)
    mails_before = len(outbox(app, ORGANISER))
    assert _post(client, f"/coordinate/tw/people/{hub['organiser_role']}/resend").status_code == 303
    assert len(outbox(app, ORGANISER)) == mails_before + 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email == ORGANISER)) == 1
        assert db.session.scalar(select(func.count()).select_from(Membership).where(
            Membership.user_id == hub["organiser"])) == 1


def test_another_campaigns_role_is_not_found_here(app, client, hub):
    with app.app_context():
        role = db.session.scalar(select(Membership.id).where(
            Membership.user_id == hub["other_coord"]))
    login(client, COORD)
    _post(client, f"/coordinate/tw/people/{role}/remove")
    with app.app_context():
        assert db.session.get(Membership, role) is not None


# --- the invite form -----------------------------------------------------------------------

def test_the_invite_forms_defaults_make_a_valid_invitation(app, client, hub):
    login(client, COORD)
    page = client.get("/coordinate/tw").get_data(as_text=True)
    form = page.split('id="people"')[1]
    role = form.split('name="role"')[1].split("</select>")[0]
    assert 'selected value="organiser"' in role or 'value="organiser" selected' in role \
        or role.index('value="organiser"') < role.index('value="volunteer"')
    response = _post(client, "/coordinate/tw/people", email="fresh@example.org", name="Fresh",
                     role="organiser", city="berlin")
    assert response.status_code == 303
    coordinator = _post(client, "/coordinate/tw/people", email="lead@example.org", name="Lead",
                        role="coordinator", city="berlin")
    assert coordinator.status_code == 303
    with app.app_context():
        lead = db.session.scalar(select(User).where(User.email == "lead@example.org"))
        assert [(m.role, m.city_id) for m in lead.memberships] == [(Role.coordinator, None)]
    assert "an volunteer" not in client.get("/coordinate/tw").get_data(as_text=True)


def test_a_campaign_without_cities_invites_a_coordinator_by_default(app, client, hub):
    login(client, COORD)
    _post(client, "/campaigns/new", name="Empty", slug="empty", currency="EUR")
    page = client.get("/coordinate/empty").get_data(as_text=True)
    role = page.split('name="role"')[1].split("</select>")[0]
    assert 'value="coordinator" selected' in role or 'selected value="coordinator"' in role
    assert _post(client, "/coordinate/empty/people", email="x@example.org", name="X",
                 role="coordinator", city="").status_code == 303


def test_my_desk_offers_a_new_campaign_to_coordinators_only(app, client, hub):
    login(client, COORD)
    assert "/campaigns/new" in client.get("/organise").get_data(as_text=True)
    other = app.test_client()
    login(other, ORGANISER)
    assert "/campaigns/new" not in other.get("/organise").get_data(as_text=True)
