"""The migrations build exactly the schema the models describe, triggers included."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from twestival.storage.database import Base
from twestival.extensions import db

TRIGGERS = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type='trigger'",
    "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
}


def test_migrations_match_models(app):
    with app.app_context():
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            triggers = {r[0] for r in conn.execute(text(TRIGGERS[conn.dialect.name]))}
    assert diff == []
    assert triggers & {"ledger_entry_no_update", "ledger_entry_append_only"}


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_with_foreign_keys(app):
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
