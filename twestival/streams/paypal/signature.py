"""PayPal's webhook signature, checked here or by PayPal's own API. No Flask here.

Verification (PayPal's algorithm): the signed message is
``transmission_id|transmission_time|webhook_id|crc32(raw body)`` with the CRC as an unsigned
decimal; the signature (PAYPAL-TRANSMISSION-SIG, base64) is RSA-SHA256 with PKCS#1 v1.5 by the
certificate at PAYPAL-CERT-URL. That URL is only fetched from PayPal's own origins, and the
certificate must chain to a trusted anchor, be valid now and be issued to PayPal's message
verification host. The algorithm is fixed: the unsigned PAYPAL-AUTH-ALGO header never chooses
it. ``PAYPAL_VERIFY=online`` asks PayPal's verify-webhook-signature endpoint instead.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import logging
import re
import threading
import time
import urllib.parse
import warnings
import zlib
from collections.abc import Mapping, MutableMapping
from typing import Any

import certifi
import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from ...errors import BadRequest, InvalidInput
from ...storage.database import utcnow
from ..inbox.registry import NotConfigured
from .client import ProviderUnavailable, Settings, verify_online

log = logging.getLogger(__name__)

# Where the certificate fetcher (with its cache and HTTP client) is kept between requests.
CERTS_KEY = "twestival.paypal_certs"
CERT_CACHE_SECONDS = 24 * 3600
CERT_MAX_BYTES = 64 * 1024
REQUIRED_HEADERS = ("PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME",
                    "PAYPAL-TRANSMISSION-SIG", "PAYPAL-CERT-URL")


class SignatureError(BadRequest):
    """The PAYPAL-* headers do not prove the body came from PayPal."""


# --- certificates ---------------------------------------------------------------------------

class CertFetcher:
    """Fetches PayPal signing certificates from allowed origins only, and caches them.

    ``origins`` come from the settings on every call, so a test can allow its own local server
    without replacing this code; production keeps PayPal's https origins.
    """

    def __init__(self, client: httpx.Client | None = None):
        self.client = client or httpx.Client(follow_redirects=False)
        self._cache: dict[str, tuple[list[x509.Certificate], float]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, origins: tuple[str, ...]) -> list[x509.Certificate]:
        check_cert_url(url, origins)
        with self._lock:
            cached = self._cache.get(url)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        try:
            response = self.client.get(url, timeout=10.0)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"PayPal certificate could not be fetched "
                                      f"({type(exc).__name__})") from None
        if response.status_code >= 500:
            raise ProviderUnavailable(f"PayPal certificate fetch answered {response.status_code}")
        if response.status_code != 200 or len(response.content) > CERT_MAX_BYTES:
            raise SignatureError("the PayPal certificate URL did not give a certificate")
        try:
            certs = x509.load_pem_x509_certificates(response.content)
        except ValueError:
            raise SignatureError("the PayPal certificate URL did not give a PEM certificate") from None
        with self._lock:
            self._cache[url] = (certs, time.monotonic() + CERT_CACHE_SECONDS)
        return certs


def check_cert_url(url: str, origins: tuple[str, ...]) -> None:
    parts = urllib.parse.urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if (parts.username or parts.password or not parts.hostname
            or origin not in {o.lower().rstrip("/") for o in origins}):
        raise SignatureError("PAYPAL-CERT-URL is not on one of PayPal's hosts")


@functools.cache
def trust_anchors(ca_file: str | None) -> Store:
    """Anchors from PAYPAL_CA_FILE (PEM or DER), else the public roots bundled with certifi."""
    with open(ca_file or certifi.where(), "rb") as handle:
        data = handle.read()
    if b"-----BEGIN" not in data:
        return Store([x509.load_der_x509_certificate(data)])
    certs = []
    for block in re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", data, re.S):
        with warnings.catch_warnings():
            # A few old public roots break RFC 5280 rules that newer cryptography refuses.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            try:
                certs.append(x509.load_pem_x509_certificate(block))
            except ValueError:
                continue  # a root this library cannot read is not one PayPal chains to
    return Store(certs)


def check_chain(certs: list[x509.Certificate], settings: Settings,
                now: dt.datetime) -> x509.Certificate:
    """The leaf, once it chains to an anchor, is valid at ``now`` and names PayPal's host."""
    if not certs:
        raise SignatureError("the PayPal certificate URL gave no certificate")
    leaf, intermediates = certs[0], certs[1:]
    for subject in settings.cert_subjects:
        verifier = (PolicyBuilder().store(trust_anchors(settings.ca_file)).time(now)
                    .build_server_verifier(x509.DNSName(subject)))
        try:
            verifier.verify(leaf, intermediates)
            return leaf
        except VerificationError:
            continue
    raise SignatureError("the PayPal certificate is not trusted, has expired or is not PayPal's")


# --- verification ---------------------------------------------------------------------------

def signed_message(transmission_id: str, transmission_time: str, webhook_id: str,
                   body: bytes) -> bytes:
    # zlib.crc32 is unsigned in Python 3: the decimal PayPal signs (e.g. 2771810304).
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


def verify_offline(body: bytes, headers: Mapping[str, str], settings: Settings,
                   fetcher: CertFetcher) -> None:
    values = {name: headers.get(name) for name in REQUIRED_HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise SignatureError(f"the {missing[0]} header is missing")
    try:
        signature = base64.b64decode(values["PAYPAL-TRANSMISSION-SIG"], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("PAYPAL-TRANSMISSION-SIG is not base64") from None
    certs = fetcher.get(values["PAYPAL-CERT-URL"], settings.cert_origins)
    leaf = check_chain(certs, settings, utcnow())
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the PayPal certificate does not hold an RSA key")
    message = signed_message(values["PAYPAL-TRANSMISSION-ID"], values["PAYPAL-TRANSMISSION-TIME"],
                             settings.webhook_id, body)
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SignatureError("PayPal signature does not verify") from None


def verify(body: bytes, headers: Mapping[str, str], settings: Settings,
           fetcher: CertFetcher) -> dict:
    """Verify a delivery the configured way; returns the parsed event."""
    if settings.verify == "online":
        event = parse_event(body)
        if not verify_online(settings, fetcher.client, headers, event):
            raise SignatureError("PayPal did not confirm the webhook signature")
        return event
    verify_offline(body, headers, settings, fetcher)
    return parse_event(body)


def parse_event(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not a JSON PayPal event") from None
    if (not isinstance(event, dict) or not isinstance(event.get("id"), str)
            or not isinstance(event.get("event_type"), str)
            or not isinstance(event.get("resource"), dict)):
        raise InvalidInput("body is not a PayPal event (id, event_type and resource are required)")
    return event


def verify_delivery(body: bytes, headers: Mapping[str, str], config: Mapping[str, Any],
                    cache: MutableMapping) -> dict:
    """The inbox's verifier (``registry.Verifier``); certificates are kept in ``cache``."""
    settings = Settings.from_config(config)
    if settings is None:
        raise NotConfigured("the PayPal stream is not configured")
    return verify(body, headers, settings, cache.setdefault(CERTS_KEY, CertFetcher()))
