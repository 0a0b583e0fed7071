"""The same migrations on every backend: schema, append-only ledger, idempotent recording."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from twestival.extensions import db

from tests.helpers import post_donation


def test_donation_is_recorded_once_and_totals_move(client, api_token):
    first = post_donation(client, api_token, key="k-1", amount="12.50")
    again = post_donation(client, api_token, key="k-1", amount="12.50")
    assert (first.status_code, again.status_code) == (201, 200)
    board = client.get("/api/v1/campaigns/tw/leaderboard").get_json()
    london = next(row for row in board["cities"] if row["slug"] == "london")
    assert (london["raised_minor"], london["donations"]) == (1250, 1)


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_entry SET amount_minor = 1",
    "DELETE FROM ledger_entry",
])
def test_ledger_refuses_edits_on_every_backend(app, client, api_token, statement):
    assert post_donation(client, api_token).status_code == 201
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
        assert db.session.scalar(text("SELECT count(*) FROM ledger_entry")) == 1


def test_each_test_starts_from_an_empty_migrated_database(app):
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM campaign")) == 0
        assert db.session.scalar(text("SELECT count(*) FROM fx_rate")) > 0
