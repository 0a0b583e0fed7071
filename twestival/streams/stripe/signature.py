"""Stripe's webhook signature: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">``
with the endpoint's signing secret (``whsec_…``), checked with the SDK's own routine."""
from __future__ import annotations

import json
import time
from collections.abc import Mapping, MutableMapping
from typing import Any

import stripe

from ...errors import BadRequest, InvalidInput
from ..inbox.registry import NotConfigured

TOLERANCE_SECONDS = 300


class SignatureError(BadRequest):
    """The Stripe-Signature header does not prove the body came from Stripe."""



def verify(body: bytes, signature_header: str | None, secret: str) -> dict:
    """Check the signature as Stripe's SDK does (any matching v1, 300 s tolerance), and refuse
    a timestamp more than the tolerance ahead too."""
    if not signature_header:
        raise SignatureError("the Stripe-Signature header is missing")
    try:
        # The SDK's own check; its construct_event would also build a StripeObject tree that
        # nothing here reads, so the body is parsed once, below.
        stripe.WebhookSignature.verify_header(body, signature_header, secret,
                                              tolerance=TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(f"Stripe signature rejected: {exc.user_message or exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not a JSON Stripe event") from None
    # The SDK refuses only old timestamps: a request stamped a week ahead could be replayed
    # for a week, where the tolerance means a captured request to die in minutes. (The header
    # has parsed by now, and its first t= is the one the SDK signed over.)
    signed_at = int(next(item[1] for item in (part.split("=", 2)
                                              for part in signature_header.split(","))
                         if item[0] == "t"))
    if signed_at > time.time() + TOLERANCE_SECONDS:
        raise SignatureError("Stripe signature rejected: its timestamp is in the future")
    return event_from(body)


def event_from(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not a JSON Stripe event") from None
    if (not isinstance(event, dict) or not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str) or not isinstance(event.get("data"), dict)
            or not isinstance(event["data"].get("object"), dict)):
        raise InvalidInput("body is not a Stripe event (id, type and data.object are required)")
    return event


def verify_delivery(body: bytes, headers: Mapping[str, str], settings: Mapping[str, Any],
                    cache: MutableMapping) -> dict:
    """The inbox's verifier (``registry.Verifier``)."""
    secret = settings.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise NotConfigured("the Stripe stream is not configured")
    return verify(body, headers.get("Stripe-Signature"), secret)
