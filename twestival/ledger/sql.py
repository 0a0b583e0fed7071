"""The few statements whose spelling differs between SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, conflict_columns: list[str], **values):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the primary key (when a row was written)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=conflict_columns)
    return stmt.returning(*table.primary_key.columns)
