"""Deliveries are answered below Flask (web/webhooks.py ``Deliveries``) when they carry a
Content-Length, and by the Flask view when they come chunked. Both must give the same answer,
the same headers and the same effect."""
from __future__ import annotations

import io
import json

import pytest

from tests.payments import board, checkout_event, payments_app, stripe_signature

HEADERS = ("Content-Type", "X-Content-Type-Options", "Referrer-Policy", "Content-Security-Policy",
           "X-Frame-Options", "Strict-Transport-Security", "Retry-After")


@pytest.fixture
def app(db_path):
    yield from payments_app(db_path)


def post(client, body: bytes, *, chunked: bool, signature: str | None = None, **request):
    headers = {"Stripe-Signature": signature or stripe_signature(body), **request.pop("headers", {})}
    if not chunked:
        return client.post("/webhooks/stripe", data=body, content_type="application/json",
                           headers=headers, **request)
    # Chunked, as a server passes it on: werkzeug reads the body to its end.
    return client.post("/webhooks/stripe", input_stream=io.BytesIO(body),
                       content_type="application/json",
                       headers={**headers, "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True}, **request)


def answer(response) -> tuple:
    return (response.status_code, response.get_json(),
            {name: response.headers.get(name) for name in HEADERS})


def test_both_paths_count_a_gift_once_and_answer_alike(app, seed):
    client = app.test_client()
    gift = json.dumps(checkout_event("cs_both", "pi_both", 2500)).encode()
    direct = post(client, gift, chunked=False)
    again = post(client, gift, chunked=True)
    assert direct.status_code == 200 and direct.get_json() == {"received": True,
                                                               "status": "processed"}
    assert again.status_code == 200
    assert board(client)["by_city"]["london"]["raised_minor"] == 2500
    other = json.dumps(checkout_event("cs_other", "pi_other", 700)).encode()
    assert answer(post(client, other, chunked=True))[1:] == answer(direct)[1:]
    assert board(client)["by_city"]["london"]["raised_minor"] == 3200


def test_a_bad_signature_is_refused_alike_and_stores_nothing(app, seed):
    client = app.test_client()
    body = json.dumps(checkout_event("cs_bad", "pi_bad", 900)).encode()
    forged = "t=1,v1=" + "0" * 64
    direct, chunked = (post(client, body, chunked=c, signature=forged) for c in (False, True))
    assert direct.status_code == 400 and "signature" in direct.get_json()["error"]
    assert answer(direct) == answer(chunked)
    assert board(client)["by_city"]["london"]["raised_minor"] == 0


def test_over_https_through_the_proxy_the_answer_carries_hsts_and_a_policy(db_path, seed):
    generator = payments_app(db_path, PROXIES=1)
    app = next(generator)
    try:
        client = app.test_client()
        proxied = {"headers": {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}}
        first = json.dumps(checkout_event("cs_tls", "pi_tls", 1000)).encode()
        second = json.dumps(checkout_event("cs_tls2", "pi_tls2", 1000)).encode()
        direct = post(client, first, chunked=False, **proxied)
        chunked = post(client, second, chunked=True, **proxied)
        assert direct.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert "default-src 'self'" in direct.headers["Content-Security-Policy"]
        assert answer(direct) == answer(chunked)
        assert "Set-Cookie" not in direct.headers
    finally:
        next(generator, None)


def test_an_oversized_body_is_refused_unread_on_both_paths(app, seed):
    client = app.test_client()
    body = b'{"id": "evt_big", "padding": "' + b"x" * (512 * 1024) + b'"}'
    direct, chunked = (post(client, body, chunked=c) for c in (False, True))
    assert direct.status_code == chunked.status_code == 413
    assert direct.get_json() == chunked.get_json() == {"error": "request body is too large"}


def test_other_methods_and_paths_still_reach_flask(app, seed):
    client = app.test_client()
    assert client.get("/webhooks/stripe").status_code == 405
    assert client.post("/webhooks/unknown", data=b"{}",
                       content_type="application/json").status_code == 404
