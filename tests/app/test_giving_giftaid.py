"""UK Gift Aid: the declaration on a GBP card gift, kept with its wording's version, and the
HMRC schedule coordinators export (formula-safe; refunded gifts leave it)."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from tests.app.test_giving_sandbox import SANDBOX, pay, sandbox_app
from tests.conftest import make_app
from tests.hub_support import login, person
from tests.payments import post_stripe, refund_event
from twestival.accounts.models import Role
from twestival.extensions import db
from twestival.giving.giftaid import COLUMNS, VERSION, GiftAidDeclaration
from twestival.streams.inbox.archive import InboundPayload

AID = {"gift_aid": "on", "giftaid_title": "Dr", "giftaid_first_name": "Ada",
       "giftaid_last_name": "Lovelace", "giftaid_house": "12", "giftaid_postcode": "sw1a1aa"}


@pytest.fixture
def app(database_url):
    yield from sandbox_app(database_url)


def give(client, city="london", **data):
    page = client.get(f"/c/tw/{city}/donate").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', page))
    return page, client.post(f"/c/tw/{city}/donate", data={**fields, **data})


def schedule(app, client, new_person=True):
    if new_person:
        person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    response = client.get("/coordinate/tw/gift-aid.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_only_gbp_gifts_offer_gift_aid(client):
    assert 'name="gift_aid"' in give(client, "london")[0]
    assert 'name="gift_aid"' not in give(client, "tokyo")[0]


def test_a_declared_gift_is_on_the_schedule(app, client):
    _page, response = give(client, amount="20", **AID)
    assert response.status_code == 303
    pay(client, response.headers["Location"])
    with app.app_context():
        [declared] = db.session.scalars(select(GiftAidDeclaration)).all()
        assert (declared.postcode, declared.version) == ("SW1A 1AA", VERSION)
    rows = schedule(app, client)
    assert rows[0] == list(COLUMNS)
    [row] = rows[1:]
    assert row[:7] == ["Dr", "Ada", "Lovelace", "12", "SW1A 1AA", "", ""]
    assert re.fullmatch(r"\d\d/\d\d/\d\d", row[7]) and row[8] == "20.00"


def test_missing_or_bad_details_are_refused_at_their_fields(app, client):
    _page, response = give(client, amount="20", **{**AID, "giftaid_last_name": "",
                                                   "giftaid_postcode": "12345"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="giftaid_last_name-error"' in page and 'id="giftaid_postcode-error"' in page
    assert 'value="Ada"' in page and 'value="12345"' in page
    with app.app_context():
        assert db.session.scalars(select(GiftAidDeclaration)).all() == []


def test_the_schedule_is_formula_safe(app, client):
    _page, response = give(client, amount="5", **{**AID, "giftaid_first_name": "=HYPERLINK(1)",
                                                  "giftaid_house": "@SUM(A1)"})
    pay(client, response.headers["Location"])
    [row] = schedule(app, client)[1:]
    assert row[1] == "'=HYPERLINK(1)" and row[3] == "'@SUM(A1)"


def test_a_refunded_gift_leaves_the_schedule(app, client):
    _page, response = give(client, amount="20", **AID)
    pay(client, response.headers["Location"])
    with app.app_context():
        event = db.session.scalar(select(InboundPayload.body))
    intent = re.search(rb'"payment_intent": "([^"]+)"', event).group(1).decode()
    refund = refund_event("ch_giftaid", intent, [("re_giftaid", 500)], amount=2000)
    assert post_stripe(client, refund, secret=SANDBOX["STRIPE_WEBHOOK_SECRET"]).status_code == 200
    assert schedule(app, client)[1:] == []


def test_undeclared_gifts_and_test_mode_without_the_sandbox_stay_off(app, client, database_url):
    _page, response = give(client, amount="20")
    pay(client, response.headers["Location"])
    _page, response = give(client, amount="30", **AID)
    pay(client, response.headers["Location"])
    assert [r[8] for r in schedule(app, client)[1:]] == ["30.00"]
    live = make_app(database_url, PAYMENTS_SANDBOX="off")
    try:
        other = live.test_client()
        assert schedule(live, other, new_person=False)[1:] == []      # sandbox money is no claim once it is off
    finally:
        live.extensions["twestival.live"].stop()


def test_organisers_cannot_export(app, client):
    person(app, "org@example.org", Role.organiser, city="london")
    login(client, "org@example.org")
    assert client.get("/coordinate/tw/gift-aid.csv").status_code == 403
