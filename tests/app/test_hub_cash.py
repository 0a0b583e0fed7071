"""The night's cash: recorded once however often the phone resends it, provisional on the
board at once, confirmed by a coordinator, corrected only by a reversing entry."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from twestival.accounts.models import Role
from twestival.campaigns.service import get_campaign
from twestival.extensions import db
from twestival.ledger import reconcile
from twestival.ledger.models import EntryKind, LedgerEntry
from twestival.streams.inbox.archive import InboundPayload
from twestival.streams.inbox import registry

from tests.helpers import wait_for
from tests.hub_support import cash_body, csrf_token, login, person, post_cash


def _signed_in(app, client, role=Role.organiser, email="org@example.org"):
    person(app, email, role, city=None if role is Role.coordinator else "london")
    login(client, email)
    return csrf_token(client, "/")


def _entries(app, **where):
    with app.app_context():
        query = select(LedgerEntry).order_by(LedgerEntry.id)
        for name, value in where.items():
            query = query.where(getattr(LedgerEntry, name) == value)
        rows = db.session.scalars(query).all()
        db.session.expunge_all()
        return rows


def _board(client):
    return client.get("/api/v1/campaigns/tw/leaderboard").json


def test_a_count_sent_twice_from_the_offline_queue_is_recorded_once(app, client, seed):
    token = _signed_in(app, client, Role.volunteer, "vol@example.org")
    body = cash_body(amount="40.00")
    first, second = post_cash(client, token, body), post_cash(client, token, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json["id"] == second.json["id"] and second.json["created"] is False
    [entry] = _entries(app, stream="cash")
    assert entry.provisional and entry.amount_minor == 4000
    assert entry.meta == {"kind": "cash", "counted_by": "Ada", "witness": "Grace"}
    london = next(r for r in _board(client)["cities"] if r["slug"] == "london")
    assert (london["raised_minor"], london["provisional_minor"], london["donations"]) == (4000, 4000, 1)
    with app.app_context():
        # Both deliveries are archived verbatim; the second is marked a duplicate.
        statuses = db.session.scalars(select(InboundPayload.status).where(
            InboundPayload.stream == "cash").order_by(InboundPayload.id)).all()
        assert statuses == ["processed", "duplicate"]


def test_a_reused_key_with_another_amount_is_refused(app, client, seed):
    token = _signed_in(app, client)
    body = cash_body()
    post_cash(client, token, body)
    refused = post_cash(client, token, dict(body, amount="99.00"))
    assert refused.status_code == 409 and "different amount" in refused.json["error"]
    assert len(_entries(app, stream="cash")) == 1


def test_bad_counts_get_a_json_reason_and_record_nothing(app, client, seed):
    token = _signed_in(app, client)
    cases = [
        (cash_body(witness="ada"), 422, "second person"),
        (cash_body(amount="0"), 422, "more than zero"),
        (cash_body(amount="-5.00"), 422, "negative"),
        (cash_body(amount=12.5), 422, "as text"),
        (cash_body(amount="1.234"), 422, "decimal places"),
        (cash_body(currency="ZZZ"), 422, "currency"),
        (cash_body(kind="bitcoin"), 422, "cash or cheque"),
        (cash_body(witness=""), 422, "witness is required"),
        (cash_body(key="short"), 400, "key"),
        (dict(cash_body(), extra=1), 422, "unknown field"),
    ]
    for body, status, message in cases:
        response = post_cash(client, token, body)
        assert response.status_code == status, body
        assert message in response.json["error"], (body, response.json)
    not_json = client.post("/organise/tw/london/cash", data="amount=5",
                           headers={"X-CSRFToken": token, "Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert _entries(app, stream="cash") == []
    with app.app_context():
        # Each refused body is still archived verbatim, with the reason it was refused.
        rows = db.session.scalars(select(InboundPayload).where(InboundPayload.stream == "cash")
                                  .order_by(InboundPayload.id)).all()
        assert [r.status for r in rows] == ["rejected"] * len(cases)
        assert json.loads(rows[0].body)["witness"] == "ada" and "second person" in rows[0].error


def test_a_cheque_in_another_currency_is_converted_with_its_rate(app, client, seed):
    token = _signed_in(app, client)
    response = post_cash(client, token, cash_body(kind="cheque", amount="50.00", currency="USD"))
    assert response.status_code == 201
    [entry] = _entries(app, stream="cash")
    assert (entry.currency, entry.amount_minor, entry.meta["kind"]) == ("USD", 5000, "cheque")
    assert entry.city_minor and entry.city_fx_rate and entry.fx_rate


def test_provisional_money_is_on_the_board_at_once_and_live(app, client, seed, live):
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    wait_for(live, "leaderboard")
    token = _signed_in(app, client)
    post_cash(client, token, cash_body(amount="30.00"))
    update, _ = wait_for(live, "leaderboard_update",
                         lambda u: any(r["slug"] == "london" for r in u["cities"]))
    row = next(r for r in update["cities"] if r["slug"] == "london")
    assert (row["raised_minor"], row["provisional_minor"]) == (3000, 3000)
    assert update["total_provisional_minor"] == 3000
    board = client.get("/c/tw").get_data(as_text=True)
    assert "£30.00 provisional" in board and "£0.00</span> confirmed" in board
    city = client.get("/c/tw/london").get_data(as_text=True)
    assert 'data-field="provisional">£30.00' in city and 'data-field="confirmed">£0.00' in city


def test_a_coordinator_confirms_provisional_cash(app, client, seed):
    token = _signed_in(app, client)
    entry_id = post_cash(client, token, cash_body(amount="30.00")).json["id"]
    coordinator = app.test_client()
    person(app, "coord@example.org", Role.coordinator)
    login(coordinator, "coord@example.org")
    desk = coordinator.get("/coordinate/tw").get_data(as_text=True)
    assert f'data-entry="{entry_id}"' in desk and "All totals agree" in desk
    token_c = csrf_token(coordinator, "/coordinate/tw")
    assert coordinator.post(f"/coordinate/tw/cash/{entry_id}/confirm",
                            data={"csrf_token": token_c}).status_code == 303
    london = next(r for r in _board(client)["cities"] if r["slug"] == "london")
    assert (london["raised_minor"], london["provisional_minor"]) == (3000, 0)
    assert f'data-entry="{entry_id}"' not in coordinator.get("/coordinate/tw").get_data(as_text=True)
    # Confirming twice changes nothing; an entry of another campaign is not found.
    assert coordinator.post(f"/coordinate/tw/cash/{entry_id}/confirm",
                            data={"csrf_token": token_c}).status_code == 303
    assert coordinator.post("/coordinate/tw/cash/999/confirm",
                            data={"csrf_token": token_c}).status_code == 404
    with app.app_context():
        assert reconcile(db.session, get_campaign(db.session, "tw")) == []


def test_a_mistake_is_corrected_by_a_reversing_entry_with_a_reason(app, client, seed):
    token = _signed_in(app, client)
    entry_id = post_cash(client, token, cash_body(amount="300.00")).json["id"]
    no_reason = client.post(f"/organise/tw/london/cash/{entry_id}/reverse",
                            data={"reason": "", "csrf_token": token})
    assert no_reason.status_code == 303
    assert len(_entries(app, stream="cash")) == 1
    done = client.post(f"/organise/tw/london/cash/{entry_id}/reverse",
                       data={"reason": "counted the float as takings", "csrf_token": token})
    assert done.status_code == 303
    original, reversal = _entries(app, stream="cash")
    assert original.amount_minor == 30000          # the original is untouched
    assert (reversal.kind, reversal.amount_minor, reversal.reverses_id, reversal.note) == (
        EntryKind.reversal, -30000, entry_id, "counted the float as takings")
    london = next(r for r in _board(client)["cities"] if r["slug"] == "london")
    assert (london["raised_minor"], london["provisional_minor"], london["donations"]) == (0, 0, 0)
    # Reversing again is a no-op; a reversal cannot itself be reversed.
    client.post(f"/organise/tw/london/cash/{entry_id}/reverse",
                data={"reason": "again", "csrf_token": token})
    assert len(_entries(app, stream="cash")) == 2
    assert client.post(f"/organise/tw/london/cash/{reversal.id}/reverse",
                       data={"reason": "undo", "csrf_token": token}).status_code == 409
    desk = client.get("/organise/tw/london").get_data(as_text=True)
    assert "reversed" in desk and "counted the float as takings" in desk


def test_replaying_an_archived_cash_payload_counts_it_once(app, client, seed):
    token = _signed_in(app, client)
    post_cash(client, token, cash_body())
    with app.app_context():
        payload = db.session.scalar(select(InboundPayload).where(InboundPayload.stream == "cash"))
        registry.get("cash").process(db.session, payload)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
        assert json.loads(payload.body)["counted_by"] == "Ada"


def test_cash_for_a_pending_city_is_refused(app, client, seed):
    from tests.hub_support import apply
    apply(client)
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    refused = post_cash(client, csrf_token(client, "/"), cash_body(currency="EUR"), city="paris")
    assert refused.status_code == 409 and "not approved" in refused.json["error"]


def test_the_cash_page_is_built_for_a_phone(app, client, seed):
    _signed_in(app, client, Role.volunteer, "vol@example.org")
    page = client.get("/organise/tw/london/cash").get_data(as_text=True)
    assert 'name="viewport"' in page and 'inputmode="decimal"' in page
    assert 'data-queue="twestival.cash.tw.london"' in page and "cash.js" in page
    assert '<option value="GBP" selected>' in page
