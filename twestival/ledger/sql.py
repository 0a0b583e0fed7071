"""The few statements whose spelling differs between SQLite and PostgreSQL."""
from __future__ import annotations

import functools

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


@functools.cache
def _prepared_insert_ignore(dialect: str, table: Table, conflict_columns: tuple[str, ...],
                            returning: tuple[str, ...]):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = insert(table).on_conflict_do_nothing(index_elements=list(conflict_columns))
    columns = [table.c[name] for name in returning] or list(table.primary_key.columns)
    return stmt.returning(*columns)


def prepared_insert_ignore(session: Session, table: Table, conflict_columns: tuple[str, ...],
                           returning: tuple[str, ...] = ()):
    """``insert_ignore`` built once per database kind and table, for the hot paths: execute it
    with the row as parameters, ``session.execute(stmt, row)`` (building a statement costs more
    CPU than running it). Returns the primary key, or the ``returning`` columns."""
    return _prepared_insert_ignore(session.get_bind().dialect.name, table,
                                   tuple(conflict_columns), tuple(returning))
