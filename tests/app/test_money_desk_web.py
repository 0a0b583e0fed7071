"""The money desk over HTTP: uploads, authorisation, CSRF, the unassigned queue, statement."""
from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from twestival.ledger import CityTotal, LedgerEntry

from twestival.accounts.models import Role

from tests.hub_support import csrf_token, email_of, login, person
from tests.imports_helpers import FIXTURES, ledger_count, set_bank_references


@pytest.fixture
def people(app, seed):
    """User id by name: a coordinator (boss) and the organisers of London and Tokyo."""
    return {email.split("@")[0]: person(app, email, role, city=city)
            for email, role, city in (("boss@example.org", Role.coordinator, None),
                                      ("lon@example.org", Role.organiser, "london"),
                                      ("tok@example.org", Role.organiser, "tokyo"))}


def sign_in(client, user_id):
    login(client, email_of(client.application, user_id))


def sign_in_coordinator(client, session, campaign="tw"):
    """A new coordinator of ``campaign``, signed in on ``client``."""
    person(client.application, "boss@example.org", Role.coordinator, campaign=campaign,
           name="boss")
    login(client, "boss@example.org")


def upload(client, url, path, fmt, token, **fields):
    data = {"csrf_token": token, "format": fmt, "mapping": "",
            "file": (io.BytesIO(path.read_bytes()), path.name), **fields}
    return client.post(url, data=data, content_type="multipart/form-data")


CITY_URL = "/organise/tw/london/imports"
CAMPAIGN_URL = "/coordinate/tw/imports"


@pytest.mark.parametrize("url", [CITY_URL, CAMPAIGN_URL, "/coordinate/tw/unassigned",
                                 "/coordinate/tw/statement", "/coordinate/tw/mappings"])
def test_anonymous_visitors_are_sent_to_login(client, people, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_another_citys_organiser_gets_403(client, people):
    sign_in(client, people["tok"])
    assert client.get(CITY_URL).status_code == 403
    assert client.get(CAMPAIGN_URL).status_code == 403
    assert client.get("/coordinate/tw/unassigned").status_code == 403


def test_organiser_uploads_an_eventbrite_export_for_their_city(client, session, people):
    sign_in(client, people["lon"])
    token = csrf_token(client, CITY_URL)
    response = upload(client, CITY_URL, FIXTURES / "ticketing/eventbrite/paid_orders.csv",
                      "eventbrite", token)
    assert response.status_code == 200
    assert "imported: 3" in response.text and "duplicates skipped: 0" in response.text
    # The city is fixed by the URL: a forged city field changes nothing.
    again = upload(client, CITY_URL, FIXTURES / "ticketing/eventbrite/paid_orders.csv",
                   "eventbrite", token, city="tokyo")
    assert "duplicates skipped: 3" in again.text
    cities = {e.city_id for e in session.scalars(select(LedgerEntry))}
    assert len(cities) == 1 and None not in cities


def test_organisers_cannot_import_bank_statements(client, session, people):
    sign_in(client, people["lon"])
    token = csrf_token(client, CITY_URL)
    response = upload(client, CITY_URL, FIXTURES / "bank/derived/city_credits.camt053.xml",
                      "camt053", token)
    assert response.status_code == 422 and ledger_count(session) == 0


def test_post_without_csrf_token_is_400(client, session, people):
    sign_in(client, people["lon"])
    response = client.post(CITY_URL, data={
        "format": "eventbrite",
        "file": (io.BytesIO(b"Order #,Order Date\n"), "x.csv")},
        content_type="multipart/form-data")
    assert response.status_code == 400 and ledger_count(session) == 0


def test_a_malformed_upload_shows_the_reason_and_writes_nothing(client, session, people):
    sign_in(client, people["boss"])
    token = csrf_token(client, CAMPAIGN_URL)
    response = upload(client, CAMPAIGN_URL,
                      FIXTURES / "bank/ofx/ofxparse/fail_nice/decimal_error.ofx", "ofx", token)
    assert response.status_code == 422
    assert "Nothing was imported" in response.text
    assert "Invalid Transaction Amount: &#39;$120&#39;" in response.text
    assert ledger_count(session) == 0


def test_coordinator_imports_a_statement_and_assigns_the_unmatched_credit(client, session,
                                                                          people, app):
    set_bank_references(app, london="TW42", berlin="TW-0007")
    sign_in(client, people["boss"])
    token = csrf_token(client, CAMPAIGN_URL)
    response = upload(client, CAMPAIGN_URL, FIXTURES / "bank/derived/city_credits.camt053.xml",
                      "camt053", token)
    assert response.status_code == 200
    assert "unmatched (waiting in the unassigned queue): 1" in response.text
    assert "payouts (money already counted): 1" in response.text
    queue = client.get("/coordinate/tw/unassigned")
    assert "TW-421" in queue.text
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.city_id.is_(None)))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', queue.text).group(1)
    url = f"/coordinate/tw/unassigned/{entry.id}"
    assert client.post(url, data={"city": "london"}).status_code == 400  # no token
    done = client.post(url, data={"csrf_token": token, "city": "london"})
    assert done.status_code == 302
    session.expire_all()
    from twestival.campaigns.service import get_campaign, get_city
    london = get_city(session, get_campaign(session, "tw"), "london")
    assert session.get(CityTotal, london.id).raised_minor == 120_00 + 80_00 + 15_00
    audit = session.scalar(select(LedgerEntry).where(LedgerEntry.external_id == f"assign:{entry.id}"))
    assert audit.created_by_id == people["boss"] and audit.city_id == london.id
    assert "TW-421" not in client.get("/coordinate/tw/unassigned").text
    # Assigning twice is refused, not counted twice.
    again = client.post(url, data={"csrf_token": token, "city": "berlin"})
    assert again.status_code == 409
    session.expire_all()
    assert session.get(CityTotal, london.id).raised_minor == 215_00


def test_organiser_cannot_assign(client, people):
    sign_in(client, people["lon"])
    assert client.post("/coordinate/tw/unassigned/1", data={"city": "london"}).status_code in (
        400, 403)


def test_statement_on_screen_and_as_formula_safe_csv(client, session, people, app):
    from twestival.campaigns.service import get_campaign, get_city
    camp = get_campaign(session, "tw")
    get_city(session, camp, "london").name = "=HYPERLINK(\"http://evil\")"
    session.commit()
    sign_in(client, people["boss"])
    token = csrf_token(client, CITY_URL)
    upload(client, CITY_URL, FIXTURES / "ticketing/eventbrite/paid_orders.csv", "eventbrite",
           token)
    page = client.get("/coordinate/tw/statement")
    assert page.status_code == 200 and "ticketing" in page.text
    download = client.get("/coordinate/tw/statement?format=csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 1
    row = rows[0]
    assert row["city"].startswith("'=HYPERLINK")
    assert (row["gross"], row["refunds"], row["fees"], row["net"]) == (
        "1100.00", "-25.00", "50.18", "1075.00")  # fees: 2×2.22 + 41.30 + 2×2.22
    assert row["net_after_fees"] == "1024.82"
    assert row["net_reporting"] == "1075.00" and row["reporting_currency"] == "GBP"


def test_the_statement_adds_up_each_stream_and_the_whole(client, session, people, api_token):
    """Money from several streams, added up at once: per stream in the reporting currency
    (each entry at its recorded rate) and in total."""
    from tests.helpers import post_donation
    sign_in(client, people["boss"])
    token = csrf_token(client, CITY_URL)
    upload(client, CITY_URL, FIXTURES / "ticketing/eventbrite/paid_orders.csv", "eventbrite",
           token)   # £1,075.00 net
    assert post_donation(client, api_token, city="london", amount="20.00").status_code == 201
    assert post_donation(client, api_token, city="tokyo", amount="1000", currency="JPY").status_code == 201
    page = client.get("/coordinate/tw/statement").text
    summary = page.split("Where the money came from", 1)[1].split("By city, stream", 1)[0]
    tokyo_gbp = session.scalar(select(LedgerEntry.reporting_minor).where(
        LedgerEntry.currency == "JPY"))
    streams = re.findall(r"<tr><td>(\w+)</td><td class=\"num\">([^<]+)</td>", summary)
    assert streams == [("ticketing", "£1,075.00"),
                       ("api", f"£{(2000 + tokyo_gbp) / 100:,.2f}")]
    total = re.search(r"<th>Total</th><th class=\"num\">([^<]+)</th>", summary).group(1)
    assert total == f"£{(107500 + 2000 + tokyo_gbp) / 100:,.2f}"


def test_an_organiser_sees_their_own_citys_money_by_stream_only(client, session, people,
                                                                api_token):
    from tests.helpers import post_donation
    assert post_donation(client, api_token, city="london", amount="20.00").status_code == 201
    assert post_donation(client, api_token, city="tokyo", amount="4321", currency="JPY").status_code == 201
    sign_in(client, people["lon"])
    desk = client.get("/organise/tw/london").text
    money = desk.split('id="money"', 1)[1].split("</section>", 1)[0]
    assert "£20.00" in money and "api" in money
    assert "4,321" not in money and "¥" not in money


@pytest.mark.parametrize("value, safe", [
    ("=1+2", "'=1+2"), ("+SUM(A1)", "'+SUM(A1)"), ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("London", "London"),
    ("-25.00", "-25.00"), ("12", "12")])
def test_csv_cells_are_neutralised(value, safe):
    from twestival.ledger.statement import csv_safe
    assert csv_safe(value) == safe


def test_coordinator_saves_a_mapping_from_the_ui(client, session, people):
    sign_in(client, people["boss"])
    token = csrf_token(client, "/coordinate/tw/mappings")
    response = client.post("/coordinate/tw/mappings", data={
        "csrf_token": token, "name": "tito", "kind": "ticketing", "date_column": "Paid at",
        "amount_column": "Total", "default_currency": "GBP", "date_format": "%d/%m/%Y",
        "decimal_separator": ".", "delimiter": ","})
    assert response.status_code == 302
    assert "Paid at" in client.get("/coordinate/tw/mappings").text
    bad = client.post("/coordinate/tw/mappings", data={
        "csrf_token": token, "name": "Bad Name!", "kind": "ticketing", "date_column": "d",
        "amount_column": "a", "default_currency": "GBP", "date_format": "%d",
        "decimal_separator": ".", "delimiter": ","})
    assert bad.status_code == 422 and "mapping name" in bad.text


def test_oversized_uploads_are_refused(app, client, session, people):
    app.config["IMPORT_MAX_UPLOAD"] = 100
    sign_in(client, people["lon"])
    token = csrf_token(client, CITY_URL)
    response = upload(client, CITY_URL, FIXTURES / "ticketing/eventbrite/paid_orders.csv",
                      "eventbrite", token)
    assert response.status_code == 413 and ledger_count(session) == 0
