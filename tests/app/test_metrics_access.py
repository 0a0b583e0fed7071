"""/metrics is closed to the public by the app itself: TWESTIVAL_METRICS_ALLOW names the
addresses that may read it (loopback by default), TWESTIVAL_METRICS_TOKEN a bearer token."""
from __future__ import annotations

import pytest

from tests.conftest import make_app


@pytest.fixture
def configured(database_url):
    apps = []

    def build(**config):
        app = make_app(database_url, **config)
        apps.append(app)
        return app.test_client()
    yield build
    for app in apps:
        app.extensions["twestival.live"].stop()


def read(client, address="127.0.0.1", **headers):
    return client.get("/metrics", environ_overrides={"REMOTE_ADDR": address}, headers=headers)


def refused(response) -> bool:
    if response.status_code != 403:
        return False
    assert "TWESTIVAL_METRICS_ALLOW" in response.get_json()["error"]
    return True


def test_loopback_reads_and_the_public_is_refused_with_a_reason(client):
    assert read(client).status_code == 200
    assert read(client, "::1").status_code == 200
    assert read(client, "::ffff:127.0.0.1").status_code == 200
    assert refused(read(client, "203.0.113.9"))
    assert refused(read(client, "2001:db8::9"))


def test_behind_an_untrusted_proxy_loopback_is_not_believed(client):
    # nginx in front while TWESTIVAL_PROXIES is 0: every request seems to come from 127.0.0.1.
    assert refused(read(client, **{"X-Forwarded-For": "203.0.113.9"}))
    assert refused(read(client, **{"X-Real-IP": "203.0.113.9"}))


def test_behind_the_trusted_proxy_the_client_address_decides(configured):
    client = configured(PROXIES=1)
    assert refused(read(client, **{"X-Forwarded-For": "203.0.113.9"}))
    assert read(client).status_code == 200   # a scraper on the process's own port


def test_the_allow_list_takes_networks_and_addresses(configured):
    client = configured(METRICS_ALLOW="10.0.0.0/8, 192.0.2.7")
    assert read(client, "10.20.30.40").status_code == 200
    assert read(client, "192.0.2.7").status_code == 200
    assert refused(read(client, "192.0.2.8"))
    assert refused(read(client))   # loopback is no longer listed


def test_a_bearer_token_opens_it_from_anywhere(configured):
    client = configured(METRICS_TOKEN="s3cret-scrape-token")
    assert read(client, "203.0.113.9", Authorization="Bearer s3cret-scrape-token").status_code == 200
    assert refused(read(client, "203.0.113.9", Authorization="Bearer wrong"))
    assert refused(read(client, "203.0.113.9"))


def test_a_malformed_allow_list_stops_the_start(database_url):
    with pytest.raises(RuntimeError, match="TWESTIVAL_METRICS_ALLOW"):
        make_app(database_url, METRICS_ALLOW="10.0.0.0/8,not-an-address")
