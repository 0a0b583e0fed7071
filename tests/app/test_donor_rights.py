"""A donor's data rights (GDPR): ``twestival donor export`` and the coordinator's download give
everything held about one donor; ``twestival donor erase`` removes the person and keeps every
amount, id, hash and total, so verify, reconcile and replay stay clean."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.app.test_giving_giftaid import AID
from tests.app.test_giving_sandbox import SECRET, pay, sandbox_app, start
from tests.hub_support import login, person
from tests.payments import board, checkout_event, post_stripe, refund_event
from twestival.accounts.models import Role
from twestival.accounts.service import create_token
from twestival.audit.models import AuditEntry
from twestival.campaigns.service import create_campaign, get_campaign
from twestival.extensions import db
from twestival.ledger import LedgerEntry
from twestival.ledger.models import ERASABLE_COLUMNS, KEPT_COLUMNS, LedgerSalt
from twestival.mail import OutboxMessage
from twestival.streams.inbox.archive import InboundPayload

EMAIL = "ada@example.org"
NAME = "Ada Lovelace"
# Everything that names her, as it arrived somewhere (a form, a webhook, the API).
PERSONAL = (EMAIL, NAME, "For the wells, with love", "Webhook Ada", "221B Baker Street",
            "Sent by the API for Ada", "Lovelace", "SW1A 1AA")


@pytest.fixture
def app(database_url):
    yield from sandbox_app(database_url)


def give_everywhere(app, client) -> None:
    """Ada gives three ways: the sandbox checkout (with Gift Aid, so a receipt and a
    declaration), a Stripe webhook naming her address in customer_details, and the JSON API,
    which carries her name but no address. Someone else gives too."""
    pay(client, start(client, amount="20", donor_name=NAME, message="For the wells, with love",
                      **AID), email=EMAIL)
    event = checkout_event("cs_ada_hook", "pi_ada_hook", 1500, donor_name="Webhook Ada")
    event["data"]["object"]["customer_details"].update(
        email="Ada@Example.org", name="Ada Lovelace",
        address={"line1": "221B Baker Street", "postal_code": "NW1 6XE", "country": "GB"})
    assert post_stripe(client, event, secret=SECRET).status_code == 200
    other = checkout_event("cs_bob", "pi_bob", 700, donor_name="Bob Builder")
    other["data"]["object"]["customer_details"]["email"] = "bob@example.org"
    assert post_stripe(client, other, secret=SECRET).status_code == 200
    with app.app_context():
        _row, secret = create_token(db.session, get_campaign(db.session, "tw"))
        db.session.commit()
    response = client.post("/api/v1/campaigns/tw/cities/london/donations",
                           data=json.dumps({"amount": "5.00", "currency": "GBP",
                                            "donor_name": NAME,
                                            "message": "Sent by the API for Ada"}),
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "a1"})
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def export(runner, *args) -> dict:
    result = runner.invoke(args=["donor", "export", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def ok(runner, *args) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def stored_bytes(app, db_path) -> bytes:
    with app.app_context():
        db.engine.dispose()
    return b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*")).lower()


def test_export_gives_everything_held_about_the_donor(app, client, runner):
    give_everywhere(app, client)
    held = export(runner, EMAIL, "--name", NAME)
    assert held["email"] == EMAIL
    gifts = {g["stream"]: g for g in held["gifts"]}
    assert sorted(g["amount_minor"] for g in held["gifts"]) == [500, 1500, 2000]
    assert gifts["api"]["message"] == "Sent by the API for Ada"
    assert {g["donor_name"] for g in held["gifts"]} == {NAME, "Webhook Ada"}
    assert [r["email"].lower() for r in held["receipts"]] == [EMAIL, EMAIL]
    [declaration] = held["gift_aid_declarations"]
    assert (declaration["last_name"], declaration["postcode"]) == ("Lovelace", "SW1A 1AA")
    assert held["checkouts"][0]["meta"]["donor_name"] == NAME
    assert {m["to"].lower() for m in held["messages"]} == {EMAIL} and len(held["messages"]) == 2
    bodies = json.dumps([p["body"] for p in held["payloads"]])
    assert "221B Baker Street" in bodies and "Sent by the API for Ada" in bodies
    assert "Bob Builder" not in json.dumps(held) and "bob@example.org" not in json.dumps(held)
    # Without the name, the API gift (no address in it) is not hers to the export.
    assert sorted(g["amount_minor"] for g in export(runner, EMAIL)["gifts"]) == [1500, 2000]


def test_erase_removes_the_person_and_keeps_the_money(app, client, runner, db_path):
    give_everywhere(app, client)
    before = board(client)
    assert ok(runner, "verify", "tw")
    result = runner.invoke(args=["donor", "erase", EMAIL, "--name", NAME])
    assert result.exit_code == 0, result.output
    assert "3 gift(s)' donor data" in result.output
    assert "1 Gift Aid declaration(s)" in result.output

    ok(runner, "verify", "tw")
    ok(runner, "reconcile", "tw")
    after = board(client)
    assert after["by_city"]["london"] == before["by_city"]["london"]
    replayed = ok(runner, "replay", "tw")
    assert "new ledger entries: 0" in replayed and "erased with their donor, skipped: 3" in replayed
    ok(runner, "verify", "tw")
    assert board(client)["by_city"]["london"] == before["by_city"]["london"]

    with app.app_context():
        entries = db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)).all()
        assert sorted(e.amount_minor for e in entries) == [500, 700, 1500, 2000]
        bob = next(e for e in entries if e.amount_minor == 700)
        assert bob.donor_name == "Bob Builder"
        assert db.session.get(LedgerSalt, bob.id) is not None
        for entry in entries:
            if entry is not bob:
                assert (entry.donor_name, entry.message, entry.meta) == (None, None, None)
        erased = db.session.scalars(select(InboundPayload).where(
            InboundPayload.status == "erased")).all()
        assert len(erased) == 3
        for payload in erased:
            marker = json.loads(payload.body)
            assert marker["erased"] is True and marker["sha256_of_original"] == payload.sha256
        [logged] = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "donor.erased")).all()
        assert logged.details["entries"] == 3 and EMAIL not in json.dumps(logged.details)

    page = client.get("/c/tw/london").get_data(as_text=True)
    assert NAME not in page and "For the wells" not in page
    stored = stored_bytes(app, db_path)
    for value in PERSONAL:
        assert value.lower().encode() not in stored, value
    assert b"bob builder" in stored   # only her


def test_erase_again_holds_nothing_and_changes_nothing(app, client, runner):
    give_everywhere(app, client)
    ok(runner, "donor", "erase", EMAIL, "--name", NAME)
    again = ok(runner, "donor", "erase", EMAIL, "--name", NAME)
    assert again.startswith("nothing held about that address (erased on ")
    assert export(runner, EMAIL, "--name", NAME)["gifts"] == []
    with app.app_context():
        assert len(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "donor.erased")).all()) == 1
    ok(runner, "verify", "tw")


def test_unknown_and_bad_addresses(app, runner):
    result = runner.invoke(args=["donor", "erase", "nobody@example.org"])
    assert result.exit_code == 0 and "nothing held about that address" in result.output
    for command in ("erase", "export"):
        result = runner.invoke(args=["donor", command, "not-an-address"])
        assert result.exit_code == 2 and "is not an email address" in result.output


def test_only_an_erasure_may_update_an_entry(app, client, runner):
    """The append-only trigger lets through blanking donor data of an unsalted entry, and
    refuses every other UPDATE: money, ids, or donor data while its salt is there."""
    give_everywhere(app, client)
    with app.app_context():
        entry_id = db.session.scalar(select(LedgerEntry.id).where(
            LedgerEntry.donor_name == "Bob Builder"))
        refused = [
            "UPDATE ledger_entry SET amount_minor = 99999 WHERE id = :id",
            "UPDATE ledger_entry SET donor_name = NULL, message = NULL, note = NULL, "
            "meta = NULL WHERE id = :id",   # the salt is still there
        ]
        for sql in refused:
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(sql), {"id": entry_id})
            db.session.rollback()
        db.session.execute(text("DELETE FROM ledger_salt WHERE entry_id = :id"), {"id": entry_id})
        for sql in ("UPDATE ledger_entry SET amount_minor = 99999, donor_name = NULL, "
                    "message = NULL, note = NULL, meta = NULL WHERE id = :id",
                    "UPDATE ledger_entry SET donor_name = 'Someone else' WHERE id = :id",
                    "UPDATE ledger_entry SET donor_name = NULL, message = NULL, note = NULL, "
                    "meta = NULL, recorded_at = occurred_at WHERE id = :id",
                    "DELETE FROM ledger_entry WHERE id = :id"):
            with pytest.raises(DBAPIError, match="append-only"):
                with db.session.begin_nested():
                    db.session.execute(text(sql), {"id": entry_id})
        db.session.execute(text("UPDATE ledger_entry SET donor_name = NULL, message = NULL, "
                                "note = NULL, meta = NULL WHERE id = :id"), {"id": entry_id})
        db.session.commit()
        assert db.session.get(LedgerEntry, entry_id).amount_minor == 700
    ok(runner, "verify", "tw")


def test_the_sqlite_guard_names_every_column():
    """A column added to ledger_entry later must be guarded too (PostgreSQL compares whole
    rows; SQLite's trigger lists them)."""
    assert set(KEPT_COLUMNS) | set(ERASABLE_COLUMNS) == set(LedgerEntry.__table__.c.keys())


def test_the_coordinator_downloads_a_donors_data(app, client):
    give_everywhere(app, client)
    url = f"/coordinate/tw/donor.json?email={EMAIL}"
    assert client.get(url).status_code in (302, 401, 403)
    person(app, "org@example.org", Role.organiser, city="london")
    login(client, "org@example.org")
    assert client.get(url).status_code == 403
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    held = response.get_json()
    assert sorted(g["amount_minor"] for g in held["gifts"]) == [1500, 2000]
    assert len(held["gift_aid_declarations"]) == 1 and len(held["messages"]) == 2
    bad = client.get("/coordinate/tw/donor.json?email=nope")
    assert bad.status_code == 422 and "error" in bad.get_json()
    with app.app_context():
        [logged] = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "donor.exported")).all()
        assert EMAIL not in json.dumps(logged.details) and logged.subject == "a donor"


def test_the_statement_page_offers_the_download_in_german(app, client):
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    page = client.get("/coordinate/tw/statement", headers={"Accept-Language": "de"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'action="/coordinate/tw/donor.json"' in html
    assert "Alle gespeicherten Daten herunterladen (JSON)" in html
    assert "Daten einer spendenden Person (DSGVO-Anfrage)" in html
    bad = client.get("/coordinate/tw/donor.json?email=x", headers={"Accept-Language": "de"})
    assert bad.status_code == 422 and "E-Mail-Adresse" in bad.get_json()["error"]


def test_the_gift_wall_keeps_the_gift_without_the_person(app, client, runner):
    pytest.importorskip("twestival.live.gifts", reason="the gift wall lands with the live night")

    def wall():
        response = client.get("/api/v1/campaigns/tw/gifts")
        assert response.status_code == 200
        return {g["amount_minor"]: g for g in response.get_json()["gifts"]}

    give_everywhere(app, client)
    before = wall()
    assert before[2000]["donor_name"] == NAME and before[500]["message"]
    ok(runner, "donor", "erase", EMAIL, "--name", NAME)
    after = wall()
    assert set(after) == set(before)                       # every gift is still on the wall
    for amount in (2000, 1500, 500):
        assert (after[amount]["donor_name"], after[amount]["message"]) == (None, None)
    assert after[700]["donor_name"] == "Bob Builder"


def test_a_refund_after_the_erasure_is_counted_and_mails_no_one(app, client, runner):
    give_everywhere(app, client)
    ok(runner, "donor", "erase", EMAIL, "--name", NAME)
    before = board(client)["by_city"]["london"]
    refund = refund_event("ch_ada_hook", "pi_ada_hook", [("re_ada", 1500)], amount=1500)
    assert post_stripe(client, refund, secret=SECRET).status_code == 200
    after = board(client)["by_city"]["london"]
    assert after["raised_minor"] == before["raised_minor"] - 1500
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.subject.like("Refund%"))).all() == []
        refunded = db.session.scalars(select(LedgerEntry).where(
            LedgerEntry.kind == "refund")).one()
        assert refunded.donor_name is None
    ok(runner, "verify", "tw")
    ok(runner, "reconcile", "tw")


def test_another_campaigns_coordinator_cannot_download(app, client):
    give_everywhere(app, client)
    with app.app_context():
        create_campaign(db.session, "other", name="Other", currency="EUR")
        db.session.commit()
    person(app, "elsewhere@example.org", Role.coordinator, campaign="other")
    login(client, "elsewhere@example.org")
    assert client.get(f"/coordinate/tw/donor.json?email={EMAIL}").status_code == 403
    held = client.get(f"/coordinate/other/donor.json?email={EMAIL}").get_json()
    assert held["gifts"] == [] and held["messages"] == [] and held["payloads"] == []


def test_a_payload_not_yet_counted_is_not_erased(app, client, runner):
    """A gift naming a campaign that does not exist yet waits in the archive for replay:
    erasing its body would lose the money, so the erasure refuses, whole."""
    event = checkout_event("cs_early", "pi_early", 900, campaign="later", donor_name=NAME)
    event["data"]["object"]["customer_details"]["email"] = EMAIL
    post_stripe(client, event, secret=SECRET)
    with app.app_context():
        [payload] = db.session.scalars(select(InboundPayload)).all()
        assert payload.status not in ("processed", "erased")
    result = runner.invoke(args=["donor", "erase", EMAIL])
    assert result.exit_code == 2 and "not processed yet" in result.output
    with app.app_context():
        payload = db.session.scalars(select(InboundPayload)).one()
        assert json.loads(payload.body)["id"] == event["id"]
        assert db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "donor.erased")).all() == []
