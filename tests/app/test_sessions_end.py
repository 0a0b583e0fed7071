"""Sessions end on the server's word: a copied cookie dies with sign-out, a password reset,
deactivation or a removed role (OWASP ASVS 3.3.1, 3.3.3)."""
from __future__ import annotations

from sqlalchemy import select

from twestival.accounts.models import Membership, Role
from twestival.accounts.service import deactivate, find_user, remove_role
from twestival.extensions import db

from tests.hub_support import csrf_token, link_in, login, outbox, person

EMAIL = "ada@example.org"
DESK = "/organise/tw/london"


def copy_of(client, app):
    """A second browser holding the same session cookie, as a thief with a copy would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def opens_the_desk(client) -> bool:
    response = client.get(DESK)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def test_a_cookie_copied_before_sign_out_no_longer_opens_the_desk(app, client, seed):
    person(app, EMAIL, Role.organiser, city="london")
    login(client, EMAIL)
    thief = copy_of(client, app)
    assert opens_the_desk(thief)
    client.post("/logout", data={"csrf_token": csrf_token(client, DESK)})
    assert not opens_the_desk(client)
    assert not opens_the_desk(thief)
    login(client, EMAIL)   # signing in again works, with a fresh session
    assert opens_the_desk(client) and not opens_the_desk(thief)


def test_a_password_reset_ends_the_sessions_signed_in_before_it(app, client, seed):
    person(app, EMAIL, Role.organiser, city="london")
    login(client, EMAIL)
    assert opens_the_desk(client)
    owner = app.test_client()
    owner.post("/forgot-password", data={"email": EMAIL,
                                         "csrf_token": csrf_token(owner, "/forgot-password")})
    link = link_in(outbox(app, EMAIL)[-1].body, "/set-password/")
    new = "a brand new password"
    response = owner.post(link, data={"password": new, "confirm": new,
                                      "csrf_token": csrf_token(owner, link)})
    assert response.status_code == 302
    assert opens_the_desk(owner)          # the reset signs its own browser in
    assert not opens_the_desk(client)     # and ends the one signed in before it


def test_deactivating_an_account_ends_its_sessions(app, client, seed):
    person(app, EMAIL, Role.organiser, city="london")
    login(client, EMAIL)
    with app.app_context():
        deactivate(find_user(db.session, EMAIL))
        db.session.commit()
    assert not opens_the_desk(client)
    refused = client.post("/login", data={"email": EMAIL, "password": "correct horse battery",
                                          "csrf_token": csrf_token(client)})
    assert refused.status_code == 400


def test_removing_a_role_ends_the_sessions(app, client, seed):
    user_id = person(app, EMAIL, Role.organiser, city="london")
    login(client, EMAIL)
    home = client.get("/organise")
    assert home.status_code == 200
    with app.app_context():
        membership = db.session.scalar(select(Membership).where(Membership.user_id == user_id))
        remove_role(db.session, membership)
        db.session.commit()
    assert client.get("/organise").status_code == 302
    login(client, EMAIL)   # still an account: they sign in again, without the desk
    assert client.get(DESK).status_code == 403


def test_sessions_of_other_people_are_untouched(app, client, seed):
    person(app, EMAIL, Role.organiser, city="london")
    person(app, "grace@example.org", Role.organiser, city="london")
    other = app.test_client()
    login(client, EMAIL)
    login(other, "grace@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, DESK)})
    assert opens_the_desk(other)
