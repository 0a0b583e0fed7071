"""PayPal's REST API over httpx: OAuth client-credentials token (cached), Orders v2 create and
capture, and the online webhook-signature check. No Flask here."""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping

import httpx

from ...errors import DomainError, InvalidInput
from ...money import Money, MoneyError, check_currency, parse

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# PayPal takes these without decimals although ISO 4217 gives HUF and TWD two.
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})


class ProviderUnavailable(DomainError):
    """PayPal could not be reached or answered 5xx: worth retrying later."""
    status = 503


class ProviderRefused(DomainError):
    """PayPal answered 4xx to a request of ours."""
    status = 502


@dataclasses.dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str
    webhook_id: str
    api_base: str
    verify: str = "offline"
    cert_origins: tuple[str, ...] = ()
    cert_subjects: tuple[str, ...] = ()
    ca_file: str | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> Settings | None:
        """None when the PayPal stream is off (any of the four PayPal settings unset)."""
        names = ("PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET", "PAYPAL_WEBHOOK_ID", "PAYPAL_API_BASE")
        if not all(config.get(name) for name in names):
            return None
        verify = str(config.get("PAYPAL_VERIFY", "offline")).lower()
        if verify not in {"offline", "online"}:
            raise InvalidInput("PAYPAL_VERIFY must be 'offline' or 'online'")
        return cls(str(config["PAYPAL_CLIENT_ID"]), str(config["PAYPAL_CLIENT_SECRET"]),
                   str(config["PAYPAL_WEBHOOK_ID"]), str(config["PAYPAL_API_BASE"]).rstrip("/"),
                   verify, tuple(config.get("PAYPAL_CERT_ORIGINS") or ()),
                   tuple(config.get("PAYPAL_CERT_SUBJECTS") or ()), config.get("PAYPAL_CA_FILE"))


# --- amounts --------------------------------------------------------------------------------

def to_paypal(money: Money) -> dict:
    if money.currency in NO_DECIMALS:
        if money.decimal != money.decimal.to_integral_value():
            raise MoneyError(f"PayPal takes {money.currency} in whole units only")
        value = str(int(money.decimal))
    else:
        value = money.major_str()
    return {"currency_code": money.currency, "value": value}


def from_paypal(amount: object) -> Money:
    if not isinstance(amount, dict):
        raise InvalidInput("PayPal amount is missing")
    currency = check_currency(amount.get("currency_code"))
    value = amount.get("value")
    if not isinstance(value, str):
        raise InvalidInput("PayPal amount value must be a decimal string")
    return parse(value, currency, allow_negative=True, allow_zero=True)


# --- OAuth ----------------------------------------------------------------------------------

_tokens: dict[tuple[str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def access_token(settings: Settings, client: httpx.Client) -> str:
    """A cached client-credentials token, renewed a minute before PayPal says it expires."""
    key = (settings.api_base, settings.client_id)
    with _tokens_lock:
        cached = _tokens.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
    data = _call(client, "POST", f"{settings.api_base}/v1/oauth2/token",
                 auth=(settings.client_id, settings.client_secret),
                 data={"grant_type": "client_credentials"})
    token = data.get("access_token")
    if not isinstance(token, str):
        raise ProviderRefused("PayPal returned no access token")
    lifetime = data.get("expires_in") if isinstance(data.get("expires_in"), int) else 300
    with _tokens_lock:
        _tokens[key] = (token, time.monotonic() + max(0, lifetime - 60))
    return token


def _call(client: httpx.Client, method: str, url: str, **kwargs) -> dict:
    try:
        response = client.request(method, url, timeout=TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"PayPal could not be reached ({type(exc).__name__})") from None
    if response.status_code >= 500:
        raise ProviderUnavailable(f"PayPal answered {response.status_code}")
    if response.status_code >= 400:
        raise ProviderRefused(f"PayPal refused the request ({response.status_code}: "
                              f"{response.text[:200]})")
    try:
        data = response.json()
    except ValueError:
        raise ProviderRefused("PayPal answered with something that is not JSON") from None
    if not isinstance(data, dict):
        raise ProviderRefused("PayPal answered with something that is not a JSON object")
    return data


def _authorised(settings: Settings, client: httpx.Client, method: str, path: str,
                request_id: str | None = None, **kwargs) -> dict:
    headers = {"Authorization": f"Bearer {access_token(settings, client)}",
               "Content-Type": "application/json"}
    if request_id:
        headers["PayPal-Request-Id"] = request_id  # PayPal's idempotency key
    return _call(client, method, f"{settings.api_base}{path}", headers=headers, **kwargs)


# --- Orders v2 ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Order:
    id: str
    approve_url: str


def create_order(settings: Settings, client: httpx.Client, amount: Money, *, custom_id: str,
                 description: str, return_url: str, cancel_url: str, request_id: str) -> Order:
    body = {
        "intent": "CAPTURE",
        "purchase_units": [{"amount": to_paypal(amount), "custom_id": custom_id,
                            "description": description[:127]}],
        "payment_source": {"paypal": {"experience_context": {
            "return_url": return_url, "cancel_url": cancel_url,
            "user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING"}}},
    }
    data = _authorised(settings, client, "POST", "/v2/checkout/orders", request_id, json=body)
    links = {link.get("rel"): link.get("href") for link in data.get("links") or []
             if isinstance(link, dict)}
    approve = links.get("payer-action") or links.get("approve")
    if not isinstance(data.get("id"), str) or not isinstance(approve, str):
        raise ProviderRefused("PayPal's order has no id or approval link")
    return Order(data["id"], approve)


def capture_order(settings: Settings, client: httpx.Client, order_id: str) -> dict:
    return _authorised(settings, client, "POST", f"/v2/checkout/orders/{order_id}/capture",
                       f"capture-{order_id}", json={})


# --- online signature check -----------------------------------------------------------------

def verify_online(settings: Settings, client: httpx.Client, headers: Mapping[str, str],
                  event: dict) -> bool:
    body = {
        "auth_algo": headers.get("PAYPAL-AUTH-ALGO"),
        "cert_url": headers.get("PAYPAL-CERT-URL"),
        "transmission_id": headers.get("PAYPAL-TRANSMISSION-ID"),
        "transmission_sig": headers.get("PAYPAL-TRANSMISSION-SIG"),
        "transmission_time": headers.get("PAYPAL-TRANSMISSION-TIME"),
        "webhook_id": settings.webhook_id,
        "webhook_event": event,
    }
    data = _authorised(settings, client, "POST", "/v1/notifications/verify-webhook-signature",
                       json=body)
    return data.get("verification_status") == "SUCCESS"

