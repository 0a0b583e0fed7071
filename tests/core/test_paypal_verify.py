"""PayPal webhook signatures, checked offline with PayPal's own signed test vectors."""
from __future__ import annotations

import datetime as dt
import json
import urllib.parse

import pytest
import time_machine

from tests.payments import FIXTURES, LocalProvider, ThrowawayCA
from twestival.streams.paypal import signature as paypal
from twestival.streams.paypal.signature import CertFetcher, SignatureError, check_cert_url
from twestival.streams.paypal.client import ProviderUnavailable, Settings

PAYPAL_ORIGINS = ("https://api.paypal.com", "https://api.sandbox.paypal.com",
                  "https://api-m.paypal.com", "https://api-m.sandbox.paypal.com")
SUBJECTS = ("messageverificationcerts.paypal.com", "messageverificationcerts.sandbox.paypal.com")
ANCHOR = str(FIXTURES / "paypal" / "DigiCertSHA2ExtendedValidationServerCA.crt")
VECTORS = {"java_sdk_signed_vector": "testClientCert.crt",
           "python_node_sdk_signed_vector": "python_node_sdk_sandbox_cert.pem"}


def load(name):
    vector = json.loads((FIXTURES / "paypal" / f"{name}.json").read_text())
    cert = (FIXTURES / "paypal" / VECTORS[name]).read_bytes()
    return vector, cert


def transmitted_at(vector) -> dt.datetime:
    return dt.datetime.fromisoformat(vector["headers"]["PAYPAL-TRANSMISSION-TIME"].replace("Z", "+00:00"))


class Vector:
    """A signed vector with its certificate served by a local stand-in for PayPal's cert URL.

    PAYPAL-CERT-URL is not part of the signed message, so pointing it at 127.0.0.1 leaves the
    signature as PayPal made it; the test widens the allowed origins to that server only.
    """

    def __init__(self, name, server: LocalProvider):
        self.vector, cert = load(name)
        path = urllib.parse.urlsplit(self.vector["headers"]["PAYPAL-CERT-URL"]).path
        server.routes[("GET", path)] = lambda _request: (200, cert)
        self.server = server
        self.headers = dict(self.vector["headers"], **{"PAYPAL-CERT-URL": server.base + path})
        self.body = self.vector["body"].encode()
        self.settings = Settings("id", "secret", self.vector["webhook_id"], "http://unused",
                                 "offline", (server.base,), SUBJECTS, ANCHOR)
        self.fetcher = CertFetcher()

    def verify(self, body=None, headers=None, settings=None):
        return paypal.verify_offline(self.body if body is None else body,
                                     self.headers if headers is None else headers,
                                     settings or self.settings, self.fetcher)


@pytest.fixture(params=sorted(VECTORS))
def vector(request):
    with LocalProvider({}) as server:
        vec = Vector(request.param, server)
        with time_machine.travel(transmitted_at(vec.vector)):
            yield vec


def test_signed_vectors_verify_with_their_certificates(vector):
    assert vector.vector["crc32_of_body"] > 0
    vector.verify()
    event = paypal.verify(vector.body, vector.headers, vector.settings, vector.fetcher)
    assert event["id"].startswith("WH-")
    assert len(vector.server.requests) == 1  # the certificate was fetched once, then cached


def test_signed_message_uses_the_unsigned_crc32(vector):
    v = vector.vector
    message = paypal.signed_message(v["headers"]["PAYPAL-TRANSMISSION-ID"],
                                    v["headers"]["PAYPAL-TRANSMISSION-TIME"], v["webhook_id"],
                                    vector.body)
    assert message.decode() == v["signed_string"]


def test_any_changed_byte_of_the_body_fails(vector):
    vector.verify()
    for position in range(len(vector.body)):
        changed = bytearray(vector.body)
        changed[position] ^= 0x01
        with pytest.raises(SignatureError):
            vector.verify(body=bytes(changed))
    with pytest.raises(SignatureError):
        vector.verify(body=vector.body + b" ")


@pytest.mark.parametrize("header", ["PAYPAL-TRANSMISSION-ID", "PAYPAL-TRANSMISSION-TIME",
                                    "PAYPAL-TRANSMISSION-SIG"])
def test_any_changed_character_of_the_signed_headers_fails(vector, header):
    value = vector.headers[header]
    for position in range(len(value)):
        replacement = "B" if value[position] != "B" else "C"
        changed = dict(vector.headers, **{header: value[:position] + replacement + value[position + 1:]})
        with pytest.raises(SignatureError):
            vector.verify(headers=changed)


def test_another_webhook_id_fails(vector):
    webhook_id = vector.settings.webhook_id
    for position in range(len(webhook_id)):
        other = webhook_id[:position] + ("0" if webhook_id[position] != "0" else "1") + webhook_id[position + 1:]
        with pytest.raises(SignatureError):
            vector.verify(settings=Settings("id", "secret", other, "http://unused", "offline",
                                            vector.settings.cert_origins, SUBJECTS, ANCHOR))


def test_missing_headers_fail(vector):
    for header in paypal.REQUIRED_HEADERS:
        headers = {k: v for k, v in vector.headers.items() if k != header}
        with pytest.raises(SignatureError, match=header):
            vector.verify(headers=headers)


def test_expired_or_not_yet_valid_certificates_fail():
    with LocalProvider({}) as server:
        vec = Vector("java_sdk_signed_vector", server)  # valid 2017-02-18 .. 2019-04-26
        for moment in ("2019-04-27T00:00:00+00:00", "2017-02-17T00:00:00+00:00"):
            with time_machine.travel(dt.datetime.fromisoformat(moment)):
                with pytest.raises(SignatureError, match="expired|trusted"):
                    vec.verify()
        with time_machine.travel(dt.datetime.fromisoformat("2018-01-01T00:00:00+00:00")):
            vec.verify()


def test_a_certificate_from_an_untrusted_ca_fails(tmp_path):
    with LocalProvider({}) as server:
        vec = Vector("java_sdk_signed_vector", server)
        other_ca = ThrowawayCA(tmp_path)
        with time_machine.travel(transmitted_at(vec.vector)):
            with pytest.raises(SignatureError, match="trusted"):
                vec.verify(settings=Settings("id", "secret", vec.vector["webhook_id"], "http://x",
                                             "offline", (server.base,), SUBJECTS, str(other_ca.ca_file)))


def test_a_trusted_certificate_for_another_host_fails(tmp_path):
    ca = ThrowawayCA(tmp_path, subject="www.example.com")
    settings = Settings("id", "secret", "WH", "http://x", "offline", (), SUBJECTS, str(ca.ca_file))
    with pytest.raises(SignatureError, match="PayPal's"):
        paypal.check_chain([ca.cert], settings, dt.datetime.now(dt.timezone.utc))


@pytest.mark.parametrize("url", [
    "http://api.paypal.com/v1/notifications/certs/CERT-1",      # not https
    "https://api.paypal.com.evil.example/v1/notifications/certs/CERT-1",
    "https://evil.example/v1/notifications/certs/CERT-1",
    "https://api.paypal.com@evil.example/certs/CERT-1",
    "https://user@api.paypal.com/v1/notifications/certs/CERT-1",
    "https://api.paypal.com:8443/v1/notifications/certs/CERT-1",
    "https://paypal.com/v1/notifications/certs/CERT-1",
    "file:///etc/passwd",
    "",
])
def test_certificates_are_fetched_only_from_paypal_hosts(url):
    with pytest.raises(SignatureError, match="PayPal's hosts"):
        check_cert_url(url, PAYPAL_ORIGINS)


@pytest.mark.parametrize("host", ["api.paypal.com", "api.sandbox.paypal.com", "api-m.paypal.com",
                                  "api-m.sandbox.paypal.com", "API.PAYPAL.COM"])
def test_paypal_hosts_are_allowed(host):
    check_cert_url(f"https://{host}/v1/notifications/certs/CERT-360caa42", PAYPAL_ORIGINS)


def test_a_local_server_not_on_the_list_is_never_asked(vector):
    settings = Settings("id", "secret", vector.settings.webhook_id, "http://x", "offline",
                        PAYPAL_ORIGINS, SUBJECTS, ANCHOR)
    with pytest.raises(SignatureError, match="PayPal's hosts"):
        vector.verify(settings=settings)
    assert vector.server.requests == []


def test_an_unreachable_certificate_host_is_a_transient_failure(vector):
    vector.server.server.shutdown()
    vector.server.server.server_close()
    with pytest.raises(ProviderUnavailable):
        vector.verify()


def test_online_verification_asks_paypal(vector):
    token_calls = []

    def token(request):
        token_calls.append(request)
        return 200, {"access_token": "A21AA-test", "token_type": "Bearer", "expires_in": 32400}

    def verify(request):
        sent = json.loads(request["body"])
        assert request["headers"]["Authorization"] == "Bearer A21AA-test"
        ok = (sent["webhook_id"] == vector.vector["webhook_id"]
              and sent["transmission_sig"] == vector.headers["PAYPAL-TRANSMISSION-SIG"]
              and sent["webhook_event"]["id"].startswith("WH-"))
        return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}

    vector.server.routes[("POST", "/v1/oauth2/token")] = token
    vector.server.routes[("POST", "/v1/notifications/verify-webhook-signature")] = verify
    online = Settings("client", "secret", vector.vector["webhook_id"], vector.server.base,
                      "online", (), SUBJECTS, ANCHOR)
    assert paypal.verify(vector.body, vector.headers, online, vector.fetcher)["id"].startswith("WH-")
    assert paypal.verify(vector.body, vector.headers, online, vector.fetcher)
    assert len(token_calls) == 1  # the OAuth token is cached
    assert token_calls[0]["headers"]["Authorization"].startswith("Basic ")
    wrong = Settings("client", "secret", "OTHER", vector.server.base, "online", (), SUBJECTS, ANCHOR)
    with pytest.raises(SignatureError, match="did not confirm"):
        paypal.verify(vector.body, vector.headers, wrong, vector.fetcher)
