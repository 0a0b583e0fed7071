"""`twestival backup` copies the SQLite database while gifts arrive; the copy verifies, and
redelivering what came after it (as providers retry) brings it level with the live one."""
from __future__ import annotations

import shutil
import threading
import time
import uuid

from tests.conftest import make_app
from tests.helpers import post_donation

GIFTS = 160


def _board(client):
    board = client.get("/api/v1/campaigns/tw/leaderboard").get_json()
    return board["total_raised_minor"], sorted((r["slug"], r["raised_minor"], r["donations"])
                                               for r in board["cities"])


def _gift(client, token, i, key):
    return post_donation(client, token, key=key, amount=f"{i + 1}.00",
                         city=("london", "berlin")[i % 2])


def test_a_backup_mid_burst_restores_verifies_and_catches_up(app, runner, api_token, db_path,
                                                             tmp_path):
    keys = [uuid.uuid4().hex for _ in range(GIFTS)]
    sent: list[str] = []
    failures: list[int] = []

    def burst():
        client = app.test_client()
        for i, key in enumerate(keys):
            answer = _gift(client, api_token, i, key)
            if answer.status_code != 201:
                failures.append(answer.status_code)
            sent.append(key)

    thread = threading.Thread(target=burst)
    thread.start()
    while len(sent) < GIFTS // 4 and thread.is_alive():
        time.sleep(0.01)
    copy = tmp_path / "copy.db"
    taken = runner.invoke(args=["backup", str(copy)])
    thread.join()
    assert taken.exit_code == 0, taken.output
    assert failures == []
    assert runner.invoke(args=["backup", str(copy)]).exit_code == 2   # never overwrites

    restored = tmp_path / "restored" / "twestival.db"
    restored.parent.mkdir()
    shutil.copy(copy, restored)
    copy_app = make_app(restored)
    try:
        copy_runner, copy_client = copy_app.test_cli_runner(), copy_app.test_client()
        for command in ("verify", "reconcile"):
            result = copy_runner.invoke(args=[command, "tw"])
            assert result.exit_code == 0, result.output
        for i, key in enumerate(keys):     # the providers' retries
            again = _gift(copy_client, api_token, i, key)
            assert again.status_code in (200, 201)
        assert _board(copy_client) == _board(app.test_client())
        for command in ("verify", "reconcile"):
            assert copy_runner.invoke(args=[command, "tw"]).exit_code == 0
        assert (copy_client.get("/c/tw/ledger/digest").get_json()["entries"]
                == app.test_client().get("/c/tw/ledger/digest").get_json()["entries"] == GIFTS)
    finally:
        copy_app.extensions["twestival.live"].stop()


def test_backup_points_postgresql_to_its_own_tools(app, runner, backend, tmp_path):
    result = runner.invoke(args=["backup", str(tmp_path / "copy.db")])
    if backend == "postgresql":
        assert result.exit_code == 2 and "pg_dump" in result.output
    else:
        assert result.exit_code == 0 and (tmp_path / "copy.db").exists()
