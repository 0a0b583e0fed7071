"""The serving stack alone, as a baseline for benchmark 1: the same gunicorn + gevent worker
and Flask, and the same Stripe signature check and JSON parse as the app's webhook, but no
database, no ledger and no push. What the app adds per event is the difference.

    gunicorn -k gevent -w 1 bench.stack_floor:app
"""
from gevent import monkey

monkey.patch_all()

from flask import Flask, jsonify, request  # noqa: E402  (after patching, as twestival.wsgi)

from twestival.errors import DomainError  # noqa: E402
from twestival.streams.stripe.signature import verify  # noqa: E402

from .common import STRIPE_SECRET  # noqa: E402

app = Flask(__name__)


@app.post("/webhooks/stripe")
def stripe_webhook():
    try:
        event = verify(request.get_data(cache=False), request.headers.get("Stripe-Signature"),
                       STRIPE_SECRET)
    except DomainError as exc:
        return jsonify(error=exc.message), exc.status
    return jsonify(received=True, status="processed" if event["id"] else "ignored")


@app.get("/healthz")
def healthz():
    return "ok"
