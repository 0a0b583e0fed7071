"""The imports history: every import through the money desk, `twestival import` or a replay is
listed with who, when, the file's name and SHA-256 and its report, and can be reopened; an
organiser sees their own city's, a coordinator the campaign's."""
from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import select

from tests.hub_support import csrf_token, email_of, login, person
from tests.imports_helpers import FIXTURES, set_bank_references
from twestival.accounts.models import Role
from twestival.streams.files.history import ImportRecord
from twestival.streams.inbox.archive import InboundPayload

PAID = FIXTURES / "ticketing/eventbrite/paid_orders.csv"
MALFORMED = FIXTURES / "ticketing/eventbrite/malformed_amount.csv"
CAMT = FIXTURES / "bank/derived/city_credits.camt053.xml"
CITY_LIST = "/organise/tw/london/imports/history"
CAMPAIGN_LIST = "/coordinate/tw/imports/history"


@pytest.fixture
def people(app, seed):
    return {email.split("@")[0]: person(app, email, role, city=city)
            for email, role, city in (("boss@example.org", Role.coordinator, None),
                                      ("lon@example.org", Role.organiser, "london"),
                                      ("tok@example.org", Role.organiser, "tokyo"),
                                      ("vol@example.org", Role.volunteer, "london"))}


def sign_in(client, user_id):
    login(client, email_of(client.application, user_id))


def upload(client, url, path, fmt, **fields):
    data = {"csrf_token": csrf_token(client, url), "format": fmt, "mapping": "",
            "file": (io.BytesIO(path.read_bytes()), path.name), **fields}
    return client.post(url, data=data, content_type="multipart/form-data")


def records(session) -> list[ImportRecord]:
    session.expire_all()
    return session.scalars(select(ImportRecord).order_by(ImportRecord.id)).all()


def test_a_web_import_is_listed_with_who_when_hash_and_report(client, session, people):
    sign_in(client, people["lon"])
    assert upload(client, "/organise/tw/london/imports", PAID, "eventbrite").status_code == 200
    [record] = records(session)
    assert (record.filename, record.stream, record.format, record.status, record.via) == (
        "paid_orders.csv", "ticketing", "eventbrite", "processed", "web")
    assert record.sha256 == hashlib.sha256(PAID.read_bytes()).hexdigest()
    assert record.actor == "lon@example.org" and record.by_user_id == people["lon"]
    assert (record.rows, record.imported, record.duplicates) == (4, 3, 0)
    payload = session.get(InboundPayload, record.payload_id)
    assert payload.status == "processed" and payload.sha256 == record.sha256

    page = client.get(CITY_LIST)
    assert page.status_code == 200
    assert "paid_orders.csv" in page.text and record.sha256[:12] in page.text
    assert "lon@example.org" in page.text
    one = client.get(f"{CITY_LIST}/{record.id}")
    assert one.status_code == 200
    assert record.sha256 in one.text and "imported: 3" in one.text


def test_a_refused_file_is_listed_with_its_reason_and_no_money(client, session, people):
    sign_in(client, people["lon"])
    response = upload(client, "/organise/tw/london/imports", MALFORMED, "eventbrite")
    assert response.status_code == 422
    [record] = records(session)
    assert record.status == "rejected" and record.imported == 0 and record.error
    assert str(record.refusal()) == session.get(InboundPayload, record.payload_id).error
    one = client.get(f"{CITY_LIST}/{record.id}")
    assert one.status_code == 200 and "Nothing was imported" in one.text


def test_the_cli_import_and_replay_are_recorded_too(app, runner, session, people):
    result = runner.invoke(args=["import", "tw", str(PAID), "--format", "eventbrite",
                                 "--city", "london"])
    assert result.exit_code == 0, result.output
    again = runner.invoke(args=["import", "tw", str(PAID), "--format", "eventbrite",
                                "--city", "london"])
    assert again.exit_code == 0, again.output
    first, second = records(session)
    assert first.via == second.via == "cli" and first.by_user_id is None
    assert first.actor.startswith("twestival import")
    assert (first.imported, second.imported, second.duplicates) == (3, 0, 3)
    assert first.sha256 == second.sha256 and first.payload_id != second.payload_id
    replayed = runner.invoke(args=["replay", "tw", "--stream", "ticketing"])
    assert replayed.exit_code == 0, replayed.output
    replays = [r for r in records(session) if r.via == "replay"]
    assert replays and all(r.imported == 0 for r in replays)


def test_coordinators_see_every_city_and_bank_statements(app, client, session, people):
    set_bank_references(app, london="TW42", berlin="TW-0007")
    sign_in(client, people["boss"])
    assert upload(client, "/coordinate/tw/imports", CAMT, "camt053").status_code == 200
    assert upload(client, "/organise/tw/london/imports", PAID, "eventbrite").status_code == 200
    bank, tickets = records(session)
    assert bank.stream == "bank" and bank.city_id is None and tickets.city_id is not None
    listing = client.get(CAMPAIGN_LIST)
    assert listing.status_code == 200
    assert "city_credits.camt053.xml" in listing.text and "paid_orders.csv" in listing.text
    assert client.get(f"{CAMPAIGN_LIST}/{bank.id}").status_code == 200
    # London's organiser sees London's import, not the campaign's bank statement.
    client.post("/logout", data={"csrf_token": csrf_token(client, CAMPAIGN_LIST)})
    sign_in(client, people["lon"])
    city = client.get(CITY_LIST)
    assert "paid_orders.csv" in city.text and "city_credits" not in city.text
    assert client.get(f"{CITY_LIST}/{bank.id}").status_code == 404
    assert client.get(f"{CAMPAIGN_LIST}/{bank.id}").status_code == 403


@pytest.mark.parametrize("url", [CITY_LIST, f"{CITY_LIST}/1", CAMPAIGN_LIST, f"{CAMPAIGN_LIST}/1"])
def test_authorisation_matrix(client, people, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    for who in ("tok", "vol"):
        sign_in(client, people[who])
        assert client.get(url).status_code == 403, who


def test_another_campaigns_import_is_not_found(app, client, people):
    from twestival.campaigns.service import add_city, create_campaign, get_city
    from twestival.extensions import db
    from twestival.streams.files.run import import_file
    with app.app_context():
        other = create_campaign(db.session, "other", name="Other", currency="GBP")
        add_city(db.session, other, "leeds", name="Leeds", country="GB", currency="GBP",
                 timezone="Europe/London", target="100.00")
        db.session.commit()
        import_file(db.session, other, PAID.read_bytes(), "eventbrite",
                    city=get_city(db.session, other, "leeds"), filename="theirs.csv")
        [theirs] = records(db.session)
    sign_in(client, people["boss"])
    assert client.get(f"{CAMPAIGN_LIST}/{theirs.id}").status_code == 404
    assert "theirs.csv" not in client.get(CAMPAIGN_LIST).text
