"""What waits for a commit waits for the real one: SQLAlchemy also reports a released (or
rolled back) savepoint as a commit (or rollback), and a webhook group processes each delivery
in a savepoint of its own. A board pushed then would show the total from before the gift,
and the gift's own push would be lost."""
import json
import time

import pytest

from tests.payments import checkout_event, payments_app, post_stripe
from twestival.extensions import socketio


@pytest.fixture
def app(database_url):
    yield from payments_app(database_url)


def _raised(live, city: str, deadline: float) -> int | None:
    seen = None
    while time.monotonic() < deadline:
        for message in live.get_received("/live"):
            for row in message["args"][0].get("cities", []):
                if row["slug"] == city:
                    seen = row["raised_minor"]
        time.sleep(0.05)
    return seen


def test_a_webhook_gift_reaches_the_board_with_its_total(app, client, seed):
    live = socketio.test_client(app, namespace="/live")
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    live.get_received("/live")
    assert post_stripe(client, checkout_event("cs_live", "pi_live", 2500)).status_code == 200
    assert _raised(live, "london", time.monotonic() + 1.5) == 2500


def test_a_refused_delivery_in_a_group_does_not_cost_the_others_their_push(app, client, seed):
    from twestival.streams.inbox.delivery import delivery
    from twestival.web.webhooks import INBOX
    live = socketio.test_client(app, namespace="/live")
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    live.get_received("/live")
    good = checkout_event("cs_ok", "pi_ok", 1200)
    bad = checkout_event("cs_bad", "pi_bad", 1300, currency="xyz")   # refused: no such currency
    with app.test_request_context("/webhooks/stripe", method="POST"):
        outcomes = [app.extensions[INBOX]._write([
            delivery("stripe", json.dumps(e).encode(), {}, "application/json", e["id"], e)
            for e in (good, bad)])][0]
    assert [o.status for o in outcomes] == ["processed", "rejected"]
    assert _raised(live, "london", time.monotonic() + 1.5) == 1200
