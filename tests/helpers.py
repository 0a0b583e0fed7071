"""Small helpers shared by tests."""
from __future__ import annotations

import time
import uuid


def post_donation(client, token, campaign="tw", city="london", key=None, **body):
    body.setdefault("amount", "10.00")
    body.setdefault("currency", "GBP")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}
    return client.post(f"/api/v1/campaigns/{campaign}/cities/{city}/donations",
                       json=body, headers=headers)


def wait_for(live, name, predicate=lambda args: True, timeout=5.0, namespace="/live"):
    """Collect Socket.IO messages until one named ``name`` satisfies ``predicate``."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in live.get_received(namespace):
            seen.append(message)
            if message["name"] == name and predicate(message["args"][0]):
                return message["args"][0], seen
        time.sleep(0.02)
    raise AssertionError(f"no {name!r} within {timeout}s; got {[m['name'] for m in seen]}")


def published(app) -> None:
    """Wait for the live update of what was just committed: public pages and figures show a
    campaign as of its latest update (web/pagecache.py), as the boards do."""
    assert app.extensions["twestival.live"].drain()
