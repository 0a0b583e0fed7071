"""Starting a donation from a city page: Stripe Checkout or a PayPal order. No Flask here.

Nothing is counted here: the money lands through the provider's webhook (or the PayPal
capture), which is verified, archived and idempotent. This only asks the provider for a
payment page, with the campaign and city attached so the webhook can place the gift.
"""
from __future__ import annotations

import dataclasses
import hashlib
import unicodedata
from collections.abc import Mapping

import httpx
import stripe

from ..campaigns.models import Campaign, City
from ..errors import DomainError, InvalidInput
from ..money import Money, MoneyError, parse
from .paypal import client as paypal_client
from .stripe.amounts import to_stripe


class PaymentProviderError(DomainError):
    """The payment provider could not start the payment; the donor may try again."""
    status = 502


@dataclasses.dataclass(frozen=True)
class Gift:
    campaign: Campaign
    city: City
    amount: Money
    donor_name: str | None
    message: str | None
    form_key: str
    fee_covered_minor: int = 0      # of ``amount``: the donor covered the fees (giving.amounts)
    lang: str | None = None         # the donor's language, for the receipt

    def metadata(self) -> dict[str, str]:
        """What the payment carries back to the webhook (Stripe metadata: strings only)."""
        extra = (("donor_name", self.donor_name), ("message", self.message), ("lang", self.lang),
                 ("fee_covered", str(self.fee_covered_minor) if self.fee_covered_minor else None))
        return {"campaign": self.campaign.slug, "city": self.city.slug} | {
            k: v for k, v in extra if v}

    def idempotency_key(self, provider: str) -> str:
        """The same form sent twice (a double click) starts one payment, not two."""
        parts = [provider, self.form_key, self.campaign.slug, self.city.slug, str(self.amount),
                 self.donor_name or "", self.message or "", str(self.fee_covered_minor)]
        return f"twestival-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:40]}"


def bounds(config: Mapping, currency: str) -> tuple[Money, Money]:
    """DONATION_MIN / DONATION_MAX: major units, one for all or a {"CUR": ..., "*": ...} map."""
    def pick(name: str) -> Money:
        value = config[name]
        if isinstance(value, Mapping):
            value = value.get(currency, value.get("*"))
        return parse(str(value), currency)
    return pick("DONATION_MIN"), pick("DONATION_MAX")


def _ascii_digits(text: str) -> str:
    """A donor may type full-width digits ("１０００" from a Japanese keyboard) or those of their
    own script ("١٢"): they mean the number, but money.parse reads ASCII digits only."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def gift(config: Mapping, campaign: Campaign, city: City, form: Mapping[str, str]) -> Gift:
    low, high = bounds(config, city.currency)
    raw = _ascii_digits(form.get("amount") or "").strip()
    if not raw:
        raise InvalidInput("please enter an amount")
    if "," in raw:
        # "12,50" means 12.50 in much of Europe and "1,250" 1250 elsewhere: never guess.
        raise InvalidInput("please write the amount without commas, with a dot for decimals "
                           "(e.g. 1250.50)")
    try:
        amount = parse(raw, city.currency)
    except MoneyError as exc:
        raise InvalidInput(exc.message) from None
    if amount.minor < low.minor or amount.minor > high.minor:
        raise InvalidInput(f"please give between {low} and {high}")
    name = (form.get("donor_name") or "").strip()[:200] or None
    message = (form.get("message") or "").strip()[:500] or None  # Stripe metadata holds 500
    key = (form.get("form_key") or "").strip()
    if not 8 <= len(key) <= 64:
        raise InvalidInput("the form has expired; please reload the page")
    return Gift(campaign, city, amount, name, message, key)


def start_stripe_checkout(gift: Gift, *, api_key: str, api_base: str | None, success_url: str,
                          cancel_url: str) -> tuple[str, str]:
    """Create a Checkout Session; returns the Stripe-hosted payment page's URL and the
    session's id (what the paid gift's entry will be known by)."""
    metadata = {"campaign": gift.campaign.slug, "city": gift.city.slug}
    client = stripe.StripeClient(api_key, base_addresses={"api": api_base} if api_base else {},
                                 max_network_retries=2)
    params = {
        "mode": "payment",
        "submit_type": "donate",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": gift.amount.currency.lower(), "unit_amount": to_stripe(gift.amount),
            "product_data": {"name": f"Gift to Twestival {gift.city.name}"}}}],
        "metadata": gift.metadata(),
        # Refunds and disputes are about the PaymentIntent: let it say where it belongs too.
        "payment_intent_data": {"metadata": metadata},
        "success_url": success_url,
        "cancel_url": cancel_url,
    }
    try:
        session = client.v1.checkout.sessions.create(
            params=params, options={"idempotency_key": gift.idempotency_key("stripe")})
    except stripe.StripeError as exc:
        raise PaymentProviderError("the card payment could not be started; please try again "
                                   f"({exc.user_message or type(exc).__name__})") from None
    if not session.url:
        raise PaymentProviderError("Stripe returned no payment page")
    return session.url, session.id


def start_paypal_order(gift: Gift, settings: paypal_client.Settings, client: httpx.Client, *,
                       return_url: str, cancel_url: str) -> paypal_client.Order:
    """Create a PayPal order: its id and the URL where the donor approves it."""
    try:
        order = paypal_client.create_order(
            settings, client, gift.amount, custom_id=f"{gift.campaign.slug}/{gift.city.slug}",
            description=f"Gift to Twestival {gift.city.name}", return_url=return_url,
            cancel_url=cancel_url, request_id=gift.idempotency_key("paypal"))
    except (paypal_client.ProviderUnavailable, paypal_client.ProviderRefused) as exc:
        raise PaymentProviderError(f"the PayPal payment could not be started ({exc.message})") from None
    return order


def capture_paypal_order(settings: paypal_client.Settings, client: httpx.Client, order_id: str) -> dict:
    if not order_id or len(order_id) > 64 or not order_id.isalnum():
        raise InvalidInput("that PayPal order reference is not valid")
    try:
        return paypal_client.capture_order(settings, client, order_id)
    except (paypal_client.ProviderUnavailable, paypal_client.ProviderRefused) as exc:
        raise PaymentProviderError(f"PayPal could not complete the payment ({exc.message})") from None
