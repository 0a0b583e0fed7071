"""Helpers for the payment tests: Stripe/PayPal events built from the real samples in
tests/fixtures, signed exactly as the providers sign, and a small local HTTP server that plays
the provider's API (a real HTTP round-trip on 127.0.0.1)."""
from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.helpers import published
from twestival.extensions import db

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "whsec_test_0123456789abcdef"
STRIPE_CONFIG = {"STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_SECRET_KEY": "sk_test_local"}


def payments_app(db_path, **overrides):
    app = make_app(db_path, **{**STRIPE_CONFIG, **overrides})
    yield app
    app.extensions["twestival.live"].stop()
    with app.app_context():
        db.engine.dispose()


# --- Stripe ---------------------------------------------------------------------------------

def stripe_sample(name: str) -> dict:
    return json.loads((FIXTURES / "stripe" / f"{name}.json").read_text())


def stripe_signature(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
                     extra_secrets: tuple[str, ...] = ()) -> str:
    """``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<body>">`` — one v1 per secret, as Stripe does."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    for key in (secret, *extra_secrets):
        parts.append("v1=" + hmac.new(key.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


def post_stripe(client, event: dict | bytes, **sign):
    body = event if isinstance(event, bytes) else json.dumps(event, indent=2).encode()
    return client.post("/webhooks/stripe", data=body, content_type="application/json",
                       headers={"Stripe-Signature": stripe_signature(body, **sign)})


def checkout_event(session_id: str, intent: str, amount: int, currency: str = "gbp", *,
                   campaign: str | None = "tw", city: str | None = "london",
                   payment_status: str = "paid", kind: str = "checkout.session.completed",
                   event_id: str | None = None, **metadata) -> dict:
    event = copy.deepcopy(stripe_sample("checkout.session.completed"))
    event["id"] = event_id or f"evt_{kind}_{session_id}"
    event["type"] = kind
    session = event["data"]["object"]
    session.update(id=session_id, payment_intent=intent, amount_subtotal=amount,
                   amount_total=amount, currency=currency, payment_status=payment_status)
    session["metadata"] = {k: v for k, v in (("campaign", campaign), ("city", city)) if v}
    session["metadata"].update(metadata)
    return event


def refund_event(charge: str, intent: str | None, refunds: list[tuple[str, int]],
                 currency: str = "gbp", *, amount: int, event_id: str | None = None) -> dict:
    """charge.refunded with the refunds list (API versions before 2022-11-15)."""
    event = copy.deepcopy(stripe_sample("charge.refunded"))
    event["id"] = event_id or f"evt_refunded_{charge}_{len(refunds)}"
    obj = event["data"]["object"]
    template = obj["refunds"]["data"][0]
    obj.update(id=charge, payment_intent=intent, amount=amount, amount_captured=amount,
               currency=currency, amount_refunded=sum(a for _r, a in refunds),
               refunded=sum(a for _r, a in refunds) >= amount)
    obj["refunds"]["data"] = [dict(template, id=refund_id, amount=value, charge=charge,
                                   payment_intent=intent, currency=currency)
                              for refund_id, value in refunds]
    obj["refunds"]["total_count"] = len(refunds)
    return event


def dispute_event(kind: str, charge: str, intent: str | None, amount: int, currency: str = "gbp",
                  *, status: str, event_id: str | None = None) -> dict:
    event = copy.deepcopy(stripe_sample(f"charge.{kind}"))
    event["id"] = event_id or f"evt_{kind}_{charge}_{status}"
    obj = event["data"]["object"]
    obj.update(id=f"dp_{charge}", charge=charge, payment_intent=intent, amount=amount,
               currency=currency, status=status)
    for bt in obj.get("balance_transactions") or []:
        bt["currency"] = currency
    return event


def board(client, campaign: str = "tw") -> dict:
    published(client.application)
    data = client.get(f"/api/v1/campaigns/{campaign}/leaderboard").get_json()
    data["by_city"] = {row["slug"]: row for row in data["cities"]}
    return data


def reconcile_ok(runner, campaign: str = "tw") -> None:
    result = runner.invoke(args=["reconcile", campaign])
    assert result.exit_code == 0, result.output
    assert "every total agrees" in result.output


# --- a provider API on 127.0.0.1 ------------------------------------------------------------

class LocalProvider:
    """A tiny HTTP server; ``routes`` maps (method, path) to fn(request) -> (status, body)."""

    def __init__(self, routes: dict):
        self.routes = routes
        self.requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                request = {"method": self.command, "path": self.path,
                           "headers": dict(self.headers.items()),
                           "body": self.rfile.read(length) if length else b""}
                provider.requests.append(request)
                route = provider.routes.get((self.command, self.path.split("?")[0]))
                status, body, content_type = (404, b'{"error": "no route"}', "application/json")
                if route is not None:
                    status, body = route(request)
                    if isinstance(body, (dict, list)):
                        body = json.dumps(body).encode()
                    elif isinstance(body, bytes) and body.startswith(b"-----BEGIN"):
                        content_type = "application/x-pem-file"
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    with LocalProvider({}) as server:
        yield server


# --- PayPal ---------------------------------------------------------------------------------

PAYPAL_SUBJECT = "messageverificationcerts.sandbox.paypal.com"


class ThrowawayCA:
    """A CA and a PayPal-like signing certificate made for one test, never trusted elsewhere."""

    def __init__(self, directory: Path, subject: str = PAYPAL_SUBJECT,
                 not_before=None, not_after=None):
        import datetime as dt

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = dt.datetime.now(dt.timezone.utc)
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Throwaway Test CA")])
        self.ca_cert = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(self.ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(ca_name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=True, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                           critical=False)
            .sign(self.ca_key, hashes.SHA256()))
        self.ca_file = directory / "throwaway-ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, message: bytes) -> str:
        import base64

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        return base64.b64encode(self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def paypal_headers(ca: ThrowawayCA, body: bytes, webhook_id: str, cert_url: str,
                   transmission_id: str | None = None) -> dict:
    """Headers as PayPal sends them, signed over id|time|webhook id|crc32(body)."""
    import datetime as dt
    import uuid
    import zlib
    transmission_id = transmission_id or str(uuid.uuid4())
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{when}|{webhook_id}|{zlib.crc32(body)}".encode()
    return {"PAYPAL-TRANSMISSION-ID": transmission_id, "PAYPAL-TRANSMISSION-TIME": when,
            "PAYPAL-TRANSMISSION-SIG": ca.sign(message), "PAYPAL-CERT-URL": cert_url,
            "PAYPAL-AUTH-ALGO": "SHA256withRSA"}
