"""The donate form: Stripe Checkout Sessions and PayPal orders created over real HTTP against a
local stand-in for the provider's API, which records what the SDK sent."""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest

from sqlalchemy import select

from tests.payments import FIXTURES, LocalProvider, payments_app
from twestival.extensions import db
from twestival.ledger import LedgerEntry
from twestival.mail import OutboxMessage

ORDER_ID = "5O190127TN364715T"


def stripe_session(request):
    """Stripe's own example Checkout Session (fixtures3), given this request's values."""
    sent = urllib.parse.parse_qs(request["body"].decode())
    session = json.loads((FIXTURES / "stripe" / "fixtures3.donation_subset.json").read_text())[
        "resources"]["checkout.session"]
    number = len([1 for r in provider_requests(request) if r["path"] == "/v1/checkout/sessions"])
    session.update(id=f"cs_test_local{number}", url=f"https://checkout.stripe.com/c/pay/cs_test_local{number}",
                   amount_total=int(sent["line_items[0][price_data][unit_amount]"][0]),
                   currency=sent["line_items[0][price_data][currency]"][0],
                   metadata={k[9:-1]: v[0] for k, v in sent.items() if k.startswith("metadata[")})
    return 200, session


def provider_requests(request):
    return request["server"].requests


@pytest.fixture
def server():
    with LocalProvider({}) as local:
        def session_route(request):
            request["server"] = local
            return stripe_session(request)
        local.routes[("POST", "/v1/checkout/sessions")] = session_route
        local.routes[("POST", "/v1/oauth2/token")] = lambda _r: (
            200, {"access_token": "A21-donate", "token_type": "Bearer", "expires_in": 32400})
        local.routes[("POST", "/v2/checkout/orders")] = lambda _r: (201, {
            "id": ORDER_ID, "status": "PAYER_ACTION_REQUIRED",
            "links": [{"href": f"https://api.sandbox.paypal.com/v2/checkout/orders/{ORDER_ID}",
                       "rel": "self", "method": "GET"},
                      {"href": f"https://www.sandbox.paypal.com/checkoutnow?token={ORDER_ID}",
                       "rel": "payer-action", "method": "GET"}]})
        local.routes[("POST", f"/v2/checkout/orders/{ORDER_ID}/capture")] = lambda _r: (
            201, CAPTURED_ORDER)
        yield local


# Shaped like PayPal's documented answer to POST /v2/checkout/orders/{id}/capture.
CAPTURED_ORDER = {
    "id": ORDER_ID, "status": "COMPLETED",
    "payment_source": {"paypal": {"name": {"given_name": "John", "surname": "Doe"},
                                  "email_address": "customer@example.com",
                                  "account_id": "QYR5Z8XDVJNXQ"}},
    "purchase_units": [{"reference_id": "default", "payments": {"captures": [{
        "id": "3C679366HH908993F", "status": "COMPLETED",
        "amount": {"currency_code": "GBP", "value": "12.50"}, "final_capture": True,
        "seller_protection": {"status": "ELIGIBLE",
                              "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
        "seller_receivable_breakdown": {"gross_amount": {"currency_code": "GBP", "value": "12.50"},
                                        "paypal_fee": {"currency_code": "GBP", "value": "0.72"},
                                        "net_amount": {"currency_code": "GBP", "value": "11.78"}},
        "custom_id": "tw/london",
        "links": [{"href": "https://api.sandbox.paypal.com/v2/payments/captures/3C679366HH908993F",
                   "rel": "self", "method": "GET"}],
        "create_time": "2026-11-23T19:30:04Z", "update_time": "2026-11-23T19:30:04Z"}]}}],
    "links": [{"href": f"https://api.sandbox.paypal.com/v2/checkout/orders/{ORDER_ID}",
               "rel": "self", "method": "GET"}],
}
PAYPAL = {"PAYPAL_CLIENT_ID": "client", "PAYPAL_CLIENT_SECRET": "secret",
          "PAYPAL_WEBHOOK_ID": "WH"}


@pytest.fixture
def app(db_path, server):
    yield from payments_app(db_path, STRIPE_API_BASE=server.base)


def sent(server, path="/v1/checkout/sessions"):
    return [r for r in server.requests if r["path"] == path]


def form(client, city="london"):
    page = client.get(f"/c/tw/{city}/donate").get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', page))
    return page, fields


def donate(client, city="london", fields=None, headers=None, **data):
    fields = fields if fields is not None else form(client, city)[1]
    return client.post(f"/c/tw/{city}/donate", data={**fields, "method": "stripe", **data},
                       headers=headers or {})


def test_donate_page_shows_the_card_button_and_hides_paypal_when_unset(client, seed):
    page, fields = form(client)
    assert "Give by card" in page and 'id="donate"' in page
    assert "PayPal" not in page
    assert set(fields) == {"csrf_token", "form_key"}
    assert "Between £1.00 and £10,000.00" in page


def test_the_donate_form_speaks_the_visitors_language(client, seed):
    page = client.get("/c/tw/berlin/donate", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Für Twestival Berlin spenden" in page and "Mit Karte spenden" in page
    assert "Give by card" not in page


def test_no_form_when_no_stream_is_configured(db_path, seed):
    app = next(payments_app(db_path, STRIPE_SECRET_KEY=None))
    assert 'id="donate"' not in app.test_client().get("/c/tw/london/donate").get_data(as_text=True)
    app.extensions["twestival.live"].stop()


def test_donating_creates_a_checkout_session_and_redirects_to_it(client, seed, server):
    response = donate(client, amount="12.50", donor_name="Ada", message="For London!")
    assert response.status_code == 303
    assert response.headers["Location"] == "https://checkout.stripe.com/c/pay/cs_test_local1"
    [request] = sent(server)
    params = urllib.parse.parse_qs(request["body"].decode())
    assert params["mode"] == ["payment"] and params["submit_type"] == ["donate"]
    assert params["line_items[0][price_data][unit_amount]"] == ["1250"]
    assert params["line_items[0][price_data][currency]"] == ["gbp"]
    assert params["line_items[0][quantity]"] == ["1"]
    assert params["metadata[campaign]"] == ["tw"] and params["metadata[city]"] == ["london"]
    assert params["metadata[donor_name]"] == ["Ada"]
    assert params["metadata[message]"] == ["For London!"]
    assert params["payment_intent_data[metadata][city]"] == ["london"]
    assert params["success_url"][0].startswith("http://localhost/c/tw/london/thanks")
    assert "{CHECKOUT_SESSION_ID}" in params["success_url"][0]
    assert params["cancel_url"] == ["http://localhost/c/tw/london"]
    assert request["headers"]["Authorization"] == "Bearer sk_test_local"
    assert request["headers"]["Idempotency-Key"].startswith("twestival-")


def test_a_double_submit_reuses_the_idempotency_key(client, seed, server):
    _page, fields = form(client)
    donate(client, fields=fields, amount="20")
    donate(client, fields=fields, amount="20")
    donate(client, fields=fields, amount="25")
    first, again, changed = (r["headers"]["Idempotency-Key"] for r in sent(server))
    assert first == again != changed


def test_zero_decimal_city_currency(client, seed, server):
    assert donate(client, "tokyo", amount="1000").status_code == 303
    params = urllib.parse.parse_qs(sent(server)[0]["body"].decode())
    assert params["line_items[0][price_data][unit_amount]"] == ["1000"]
    assert params["line_items[0][price_data][currency]"] == ["jpy"]


@pytest.mark.parametrize("amount", ["１０００", "١٠٠٠", " 1000 "])
def test_a_donor_may_type_the_digits_of_their_keyboard(client, seed, server, amount):
    """The API takes ASCII digits only; a person at the form means the number whatever
    digits their keyboard types (money.parse, under both, reads ASCII only)."""
    assert donate(client, "tokyo", amount=amount).status_code == 303
    params = urllib.parse.parse_qs(sent(server)[0]["body"].decode())
    assert params["line_items[0][price_data][unit_amount]"] == ["1000"]


@pytest.mark.parametrize("city,amount,lang,reason", [
    ("london", "0.50", "en", "Please give between"), ("london", "10000.01", "en", "Please give between"),
    ("london", "", "en", "Choose an amount, or type one."),
    ("london", "12.345", "en", "GBP amounts have at most 2 decimal places"),
    ("london", "10,555", "de", "GBP-Beträge haben höchstens 2 Nachkommastellen"),
    ("london", "1.2.3", "en", "as a number, e.g. 1,250.50"),
    ("london", "1.2.3", "de", "als Zahl, z. B. 1.250,50"),
    ("london", "-5", "en", "as a number"), ("london", "ten", "en", "as a number"),
    ("tokyo", "1000.5", "en", "JPY amounts have at most 0 decimal places"),
    ("tokyo", "50", "en", "Please give between"),
    ("berlin", "12,50", "en", "as a number"),
])
def test_bad_amounts_are_refused_at_the_field_with_everything_kept(client, seed, server, city,
                                                                    amount, lang, reason):
    response = donate(client, city, amount=amount, donor_name="Ada <b>", message="For you",
                      headers={"Accept-Language": lang})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert reason in page and 'id="amount-error"' in page
    assert f'value="{amount}"' in page and 'value="Ada &lt;b&gt;"' in page and "For you</textarea>" in page
    assert sent(server) == []


def test_the_form_needs_its_csrf_token(client, seed, server):
    _page, fields = form(client)
    response = client.post("/c/tw/london/donate", data={"form_key": fields["form_key"],
                                                        "amount": "10", "method": "stripe"})
    assert response.status_code == 400
    assert sent(server) == []


def test_donation_start_is_rate_limited_per_ip(db_path, seed, server):
    app = next(payments_app(db_path, STRIPE_API_BASE=server.base, DONATE_RATE_LIMIT="3 per minute"))
    client = app.test_client()
    codes = [donate(client, amount="5").status_code for _ in range(4)]
    assert codes == [303, 303, 303, 429]
    other_ip = client.post("/c/tw/london/donate", data={**form(client)[1], "amount": "5"},
                           environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other_ip.status_code == 303
    app.extensions["twestival.live"].stop()


def test_a_stripe_failure_is_a_message_not_a_crash(client, seed, server):
    server.routes[("POST", "/v1/checkout/sessions")] = lambda _r: (
        402, {"error": {"type": "invalid_request_error", "message": "Amount too small"}})
    response = donate(client, amount="5")
    assert response.status_code == 422
    assert "could not be started" in response.get_data(as_text=True)


def test_thanks_page(client, seed):
    page = client.get("/c/tw/london/thanks?session_id=cs_test_1")
    assert page.status_code == 200 and "Thank you" in page.get_data(as_text=True)


# --- PayPal ---------------------------------------------------------------------------------

@pytest.fixture
def paypal_app(db_path, server):
    yield from payments_app(db_path, STRIPE_API_BASE=server.base, PAYPAL_API_BASE=server.base,
                            **PAYPAL)


def test_paypal_button_shows_when_configured(paypal_app, seed):
    page = paypal_app.test_client().get("/c/tw/london/donate").get_data(as_text=True)
    assert "Give with PayPal" in page


def test_paypal_order_is_created_and_captured(paypal_app, seed, server):
    client = paypal_app.test_client()
    response = donate(client, amount="12.50", method="paypal")
    assert response.status_code == 303
    assert response.headers["Location"] == f"https://www.sandbox.paypal.com/checkoutnow?token={ORDER_ID}"
    donate(client, amount="7", method="paypal")
    [token] = sent(server, "/v1/oauth2/token")  # one token, cached for the second order
    assert token["headers"]["Authorization"].startswith("Basic ")
    assert b"grant_type=client_credentials" in token["body"]
    first, second = sent(server, "/v2/checkout/orders")
    order = json.loads(first["body"])
    assert order["intent"] == "CAPTURE"
    [unit] = order["purchase_units"]
    assert unit["custom_id"] == "tw/london"
    assert unit["amount"] == {"currency_code": "GBP", "value": "12.50"}
    assert first["headers"]["Authorization"] == "Bearer A21-donate"
    assert first["headers"]["PayPal-Request-Id"] != second["headers"]["PayPal-Request-Id"]
    context = order["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == "http://localhost/c/tw/london/donate/paypal/return"

    back = client.get(f"/c/tw/london/donate/paypal/return?token={ORDER_ID}",
                      headers={"Accept-Language": "de"})
    assert back.status_code == 303 and back.headers["Location"].endswith("/c/tw/london/thanks")
    with paypal_app.app_context():   # the receipt, in the language the donor gave in
        [mail] = db.session.scalars(select(OutboxMessage)).all()
        assert mail.to_addr == "customer@example.com" and mail.subject.startswith("Deine Quittung")
    [capture] = sent(server, f"/v2/checkout/orders/{ORDER_ID}/capture")
    assert capture["headers"]["PayPal-Request-Id"] == f"capture-{ORDER_ID}"
    # The capture PayPal confirmed is counted at once, with its fee, once however often.
    client.get(f"/c/tw/london/donate/paypal/return?token={ORDER_ID}")
    board = client.get("/api/v1/campaigns/tw/leaderboard").get_json()
    [row] = [r for r in board["cities"] if r["slug"] == "london"]
    assert (row["raised_minor"], row["donations"]) == (1250, 1)
    with paypal_app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        assert (entry.external_id, entry.fee_minor) == ("capture:3C679366HH908993F", 72)


def test_paypal_return_with_a_bad_token_is_refused(paypal_app, seed, server):
    response = paypal_app.test_client().get("/c/tw/london/donate/paypal/return?token=../../x")
    assert response.status_code == 422
    assert sent(server, f"/v2/checkout/orders/{ORDER_ID}/capture") == []


def test_a_gift_aid_declaration_is_kept_with_the_checkout_session(app, client, seed, server):
    from tests.app.test_giving_giftaid import AID
    from twestival.giving.giftaid import GiftAidDeclaration
    assert donate(client, amount="12.50", **AID).status_code == 303
    with app.app_context():
        [declared] = db.session.scalars(select(GiftAidDeclaration)).all()
        assert declared.checkout_session == "cs_test_local1" and declared.last_name == "Lovelace"
