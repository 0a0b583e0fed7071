"""The JSON API exactly as DESIGN.md fixes it, including every refusal."""
import json

import pytest

from tests.helpers import post_donation


def leaderboard(client, campaign="tw"):
    return client.get(f"/api/v1/campaigns/{campaign}/leaderboard").get_json()


def row(board, slug):
    return next(r for r in board["cities"] if r["slug"] == slug)


def test_leaderboard_snapshot_shape(client, seed):
    board = leaderboard(client)
    assert set(board) >= {"campaign", "seq", "currency", "total_raised_minor", "cities"}
    assert board["campaign"] == "tw" and board["currency"] == "GBP"
    assert {r["slug"] for r in board["cities"]} == {"london", "tokyo", "berlin"}
    for r in board["cities"]:
        assert set(r) >= {"slug", "name", "currency", "target_minor", "raised_minor",
                          "raised_reporting_minor", "donations", "rank"}


def test_post_donation_then_repeat_returns_same_body(client, api_token):
    first = post_donation(client, api_token, city="tokyo", key="abc", amount="1500",
                          currency="JPY", donor_name="Aiko", message="頑張って")
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["amount"], body["amount_minor"], body["currency"]) == ("1500", 1500, "JPY")
    assert body["reporting_currency"] == "GBP" and body["reporting_minor"] > 0
    again = post_donation(client, api_token, city="tokyo", key="abc", amount="1500",
                          currency="JPY", donor_name="Aiko", message="頑張って")
    assert again.status_code == 200
    assert again.get_json() == body
    r = row(leaderboard(client), "tokyo")
    assert (r["raised_minor"], r["donations"]) == (1500, 1)


def test_same_key_different_body_is_refused(client, api_token):
    assert post_donation(client, api_token, key="k", amount="5.00").status_code == 201
    refused = post_donation(client, api_token, key="k", amount="6.00")
    assert refused.status_code == 422
    assert "Idempotency-Key" in refused.get_json()["error"]
    assert row(leaderboard(client), "london")["raised_minor"] == 500


def test_rankings_follow_share_of_own_target(client, api_token):
    post_donation(client, api_token, city="london", amount="250.00", currency="GBP")  # 10%
    post_donation(client, api_token, city="tokyo", amount="60000", currency="JPY")    # 20%
    board = leaderboard(client)
    assert [r["slug"] for r in sorted(board["cities"], key=lambda r: r["rank"])] == [
        "tokyo", "london", "berlin"]
    assert row(board, "london")["to_go_minor"] == 225000
    assert board["total_raised_minor"] == sum(r["raised_reporting_minor"] for r in board["cities"])


def _post(client, token="x", key="k1", body=None, raw=None, content_type="application/json",
          path="/api/v1/campaigns/tw/cities/london/donations", headers=None):
    h = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    if key is None:
        del h["Idempotency-Key"]
    if token is None:
        del h["Authorization"]
    h.update(headers or {})
    data = raw if raw is not None else json.dumps(body or {"amount": "1.00", "currency": "GBP"})
    return client.post(path, data=data, headers=h, content_type=content_type)


@pytest.mark.parametrize("case,status,fragment", [
    ({"token": None}, 401, "Bearer"),
    ({"token": "tw_wrong"}, 401, "unknown"),
    ({"key": None}, 400, "Idempotency-Key"),
    ({"key": "ключ"}, 400, "Idempotency-Key"),
    ({"raw": "{not json"}, 400, "not valid JSON"),
    ({"raw": "[1, 2]"}, 400, "JSON object"),
    ({"content_type": "text/plain"}, 415, "application/json"),
    ({"raw": json.dumps({"amount": "1.00", "currency": "GBP", "x": "y" * 20000})}, 413, "too large"),
    ({"body": {"currency": "GBP"}}, 422, "amount is required"),
    ({"body": {"amount": "1.00"}}, 422, "currency is required"),
    ({"body": {"amount": 12.5, "currency": "GBP"}}, 422, "decimal string"),
    ({"body": {"amount": "12.505", "currency": "GBP"}}, 422, "decimal places"),
    ({"body": {"amount": "-1.00", "currency": "GBP"}}, 422, "negative"),
    ({"body": {"amount": "0", "currency": "GBP"}}, 422, "more than zero"),
    ({"body": {"amount": "abc", "currency": "GBP"}}, 422, "not a number"),
    ({"body": {"amount": "1.00", "currency": "XXY"}}, 422, "unknown currency"),
    ({"body": {"amount": "1.000", "currency": "KWD"}}, 422, "no exchange rate"),
    ({"body": {"amount": "1.00", "currency": "GBP", "amout": 1}}, 422, "unknown field"),
    ({"body": {"amount": "1.00", "currency": "GBP", "anonymous": "yes"}}, 422, "true or false"),
    ({"body": {"amount": "1.00", "currency": "GBP", "donor_name": 5}}, 422, "string"),
    ({"body": {"amount": "1.00", "currency": "GBP", "donor_name": "x" * 201}}, 422, "too long"),
    ({"body": {"amount": "1.00", "currency": "GBP", "occurred_at": "yesterday"}}, 422, "ISO 8601"),
    ({"body": {"amount": "1.00", "currency": "GBP", "occurred_at": "2026-01-01T10:00:00"}}, 422, "offset"),
    ({"body": {"amount": "1.00", "currency": "GBP", "occurred_at": "2999-01-01T10:00:00Z"}}, 422, "future"),
    ({"path": "/api/v1/campaigns/nope/cities/london/donations"}, 404, "no campaign"),
    ({"path": "/api/v1/campaigns/tw/cities/nowhere/donations"}, 404, "no city"),
])
def test_bad_input_gets_a_json_4xx_and_changes_nothing(client, api_token, case, status, fragment):
    case = dict(case)
    if "token" not in case:
        case["token"] = api_token
    response = _post(client, **case)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert fragment in response.get_json()["error"]
    assert sum(r["raised_minor"] for r in leaderboard(client)["cities"]) == 0


def test_city_token_works_only_for_its_city(app, client, seed):
    from twestival.accounts.service import create_token
    from twestival.campaigns.service import get_campaign, get_city
    from twestival.extensions import db
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        _row, secret = create_token(db.session, camp, get_city(db.session, camp, "berlin"))
        db.session.commit()
    assert post_donation(client, secret, city="berlin", currency="EUR").status_code == 201
    refused = post_donation(client, secret, city="london")
    assert refused.status_code == 403 and "city" in refused.get_json()["error"]


def test_token_of_another_campaign_is_refused(app, client, seed):
    from twestival.accounts.service import create_token
    from twestival.campaigns.service import create_campaign
    from twestival.extensions import db
    with app.app_context():
        other = create_campaign(db.session, "other", name="Other", currency="EUR")
        _row, secret = create_token(db.session, other)
        db.session.commit()
    assert post_donation(client, secret).status_code == 403


def test_wrong_method_and_unknown_routes_answer_json(client, seed):
    response = client.get("/api/v1/campaigns/tw/cities/london/donations")
    assert response.status_code == 405 and response.is_json
    response = client.get("/api/v1/nothing")
    assert response.status_code == 404 and response.is_json


def test_every_call_is_archived_verbatim(app, client, api_token):
    from sqlalchemy import select
    from twestival.extensions import db
    from twestival.streams.inbox.archive import InboundPayload
    raw = b'{"amount": "2.00",   "currency": "GBP"}'
    ok = _post(client, token=api_token, key="arch", raw=raw)
    bad = _post(client, token=api_token, key="arch2", raw=b'{"amount": "x", "currency": "GBP"}')
    assert (ok.status_code, bad.status_code) == (201, 422)
    with app.app_context():
        rows = db.session.scalars(select(InboundPayload).order_by(InboundPayload.id)).all()
        assert [r.body for r in rows][0] == raw
        assert [r.status for r in rows] == ["processed", "rejected"]
        assert rows[0].headers["Authorization"] == "[redacted]"
        assert "not a number" in rows[1].error


# The strict contract (README): an amount is a JSON string matching ^[0-9]+(\.[0-9]+)?$ (ASCII
# digits), a currency three capital ASCII letters, and no field twice, at any depth.
@pytest.mark.parametrize("raw,fragment", [
    ('{"amount": "1.00", "currency": "GBP", "amount": "1000.00"}', "duplicate field 'amount'"),
    ('{"amount": "1000.00", "currency": "GBP", "amount": "1.00"}', "duplicate field 'amount'"),
    ('{"amount": "1.00", "currency": "GBP", "currency": "JPY"}', "duplicate field 'currency'"),
    ('{"amount": "1.00", "currency": "GBP", "message": {"a": 1, "a": 2}}', "duplicate field 'a'"),
    ('{"amount": 12, "currency": "GBP"}', "amount"),
    ('{"amount": true, "currency": "GBP"}', "amount"),
    ('{"amount": null, "currency": "GBP"}', "amount"),
    ('{"amount": "１２", "currency": "GBP"}', "amount"),        # fullwidth digits
    ('{"amount": "١٢", "currency": "GBP"}', "amount"),          # Arabic-Indic digits
    ('{"amount": "\\u0661\\u0662", "currency": "GBP"}', "amount"),
    ('{"amount": "12.٥", "currency": "GBP"}', "amount"),
    ('{"amount": " 12.5 ", "currency": "GBP"}', "amount"),
    ('{"amount": "12.5\\n", "currency": "GBP"}', "amount"),
    ('{"amount": "+12.5", "currency": "GBP"}', "amount"),
    ('{"amount": ".5", "currency": "GBP"}', "amount"),
    ('{"amount": "12.", "currency": "GBP"}', "amount"),
    ('{"amount": "1e3", "currency": "GBP"}', "amount"),
    ('{"amount": "1_000", "currency": "GBP"}', "amount"),
    ('{"amount": "12,50", "currency": "GBP"}', "amount"),
    ('{"amount": "12.50", "currency": "gbp"}', "currency"),
    ('{"amount": "12.50", "currency": "Gbp"}', "currency"),
    ('{"amount": "12.50", "currency": " GBP"}', "currency"),
    ('{"amount": "12.50", "currency": "ＧＢＰ"}', "currency"),
    ('{"amount": "12.50", "currency": 826}', "currency"),
])
def test_the_strict_contract_refuses_what_it_does_not_state(app, client, api_token, raw,
                                                            fragment):
    from sqlalchemy import select
    from twestival.extensions import db
    from twestival.streams.inbox.archive import InboundPayload
    response = _post(client, token=api_token, raw=raw.encode())
    assert response.status_code == 422, response.get_data(as_text=True)
    assert fragment in response.get_json()["error"]
    assert sum(r["raised_minor"] for r in leaderboard(client)["cities"]) == 0
    with app.app_context():  # kept verbatim, marked refused
        payload, = db.session.scalars(select(InboundPayload)).all()
        assert (payload.body, payload.status) == (raw.encode(), "rejected")


@pytest.mark.parametrize("amount,currency,minor", [
    ("12", "GBP", 1200), ("12.5", "GBP", 1250), ("0.01", "GBP", 1), ("012.50", "GBP", 1250),
    ("1500", "JPY", 1500)])
def test_the_strict_contract_takes_what_it_states(client, api_token, amount, currency, minor):
    response = post_donation(client, api_token, amount=amount, currency=currency)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["amount_minor"] == minor
