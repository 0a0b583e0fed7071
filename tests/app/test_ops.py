"""/healthz and /metrics through HTTP; the metrics move with real donations and watchers."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from twestival.extensions import socketio
from twestival.metrics import observe_webhook

from tests import services
from tests.conftest import make_app
from tests.helpers import post_donation, wait_for


def sample(client, name: str, **labels) -> float:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def test_healthz_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.sqlite_only
def test_healthz_503_when_the_database_does_not_answer(tmp_path):
    app = make_app(tmp_path / "missing-dir" / "twestival.db")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unhealthy" and body["database"] == "OperationalError"


def test_healthz_503_when_redis_is_set_but_down(database_url):
    app = make_app(database_url, REDIS_URL=f"redis://127.0.0.1:{services.free_port()}/0")
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "database": "ok",
                                   "redis": "ConnectionError"}


def test_healthz_checks_redis_when_set(database_url):
    app = make_app(database_url, REDIS_URL=services.redis_url())
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_donations_pushes_and_watchers_are_counted(app, client, api_token):
    donations = ("twestival_ledger_entries_total", {"stream": "api", "kind": "donation"})
    before = sample(client, donations[0], **donations[1])
    pushes_before = sample(client, "twestival_live_pushes_total")
    watchers_before = sample(client, "twestival_live_watchers")

    live = socketio.test_client(app, namespace="/live")
    assert sample(client, "twestival_live_watchers") == watchers_before + 1
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    wait_for(live, "leaderboard")

    assert post_donation(client, api_token, key="m-1").status_code == 201
    assert post_donation(client, api_token, key="m-1").status_code == 200  # a repeat: not counted
    wait_for(live, "leaderboard_update", lambda u: u["cities"] and u["total_raised_minor"] == 1000)
    assert sample(client, donations[0], **donations[1]) == before + 1
    assert sample(client, "twestival_live_pushes_total") >= pushes_before + 1

    live.disconnect(namespace="/live")
    assert sample(client, "twestival_live_watchers") == watchers_before


def test_a_rolled_back_entry_is_not_counted(app, client, api_token):
    before = sample(client, "twestival_ledger_entries_total", stream="api", kind="donation")
    response = post_donation(client, api_token, amount="-5.00")
    assert response.status_code == 422
    assert sample(client, "twestival_ledger_entries_total", stream="api", kind="donation") == before


def test_observe_webhook_times_each_delivery_by_outcome(client):
    ok = sample(client, "twestival_webhook_seconds_count", stream="teststream", outcome="ok")
    failed = sample(client, "twestival_webhook_seconds_count", stream="teststream",
                    outcome="error")
    with observe_webhook("teststream"):
        pass
    with pytest.raises(ValueError):
        with observe_webhook("teststream"):
            raise ValueError("bad signature")
    assert sample(client, "twestival_webhook_seconds_count", stream="teststream",
                  outcome="ok") == ok + 1
    assert sample(client, "twestival_webhook_seconds_count", stream="teststream",
                  outcome="error") == failed + 1
