"""The few statements whose spelling differs between SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(session: Session, table: Table, conflict_columns: list[str]):
    """INSERT ... ON CONFLICT DO NOTHING, for one row (``.values``) or many (executemany)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(table).on_conflict_do_nothing(index_elements=conflict_columns)


def insert_ignore(session: Session, table: Table, conflict_columns: list[str], **values):
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the primary key (when a row was written)."""
    stmt = insert_ignoring_conflicts(session, table, conflict_columns).values(**values)
    return stmt.returning(*table.primary_key.columns)
