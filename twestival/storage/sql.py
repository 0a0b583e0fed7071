"""The statements whose spelling differs between SQLite and PostgreSQL, and the many-row
insert that skips SQLAlchemy's per-row bookkeeping."""
from __future__ import annotations

import functools
import operator
import re

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


_compiled: dict[tuple, tuple] = {}   # fast_insert's statements, compiled once per process


def fast_insert(session: Session, table, rows: list[dict], conflict_columns: list[str]) -> int:
    """INSERT .. ON CONFLICT DO NOTHING for many rows through the driver's executemany.

    The statement is compiled once and each value goes through its column type's own bind
    processor, as SQLAlchemy would do, without its per-row bookkeeping (which costs more
    than the database's work for a million rows). Returns the driver's count of rows written.
    The values are made ready before the statement opens the transaction (on SQLite it takes
    the write lock), so the lock is held for the database's work only.
    """
    dialect = session.get_bind().dialect
    keys = list(rows[0])
    cache_key = (table.name, tuple(keys), tuple(conflict_columns), dialect.name)
    if cache_key not in _compiled:
        stmt = insert_ignoring_conflicts(session, table, conflict_columns)
        compiled = stmt.compile(dialect=dialect, column_keys=keys)
        names = list(compiled.positiontup) if compiled.positional else keys
        processors = [(i, table.c[name].type._cached_bind_processor(dialect))
                      for i, name in enumerate(names)]
        _compiled[cache_key] = (str(compiled), compiled.positional, names,
                                [(i, p) for i, p in processors if p is not None])
    sql, positional, names, convert_at = _compiled[cache_key]
    # None is bound as SQL NULL (also for JSON columns, where SQLAlchemy would write 'null').
    pick = operator.itemgetter(*names)
    params = []
    for row in rows:
        values = list(pick(row)) if len(names) > 1 else [pick(row)]
        for i, process in convert_at:
            if values[i] is not None:
                values[i] = process(values[i])
        params.append(tuple(values) if positional else dict(zip(names, values)))
    if dialect.name == "postgresql" and len(rows) > 1:
        return _many_values(session, sql, names, params)
    return session.connection().exec_driver_sql(sql, params).rowcount


_PG_MAX_PARAMETERS = 65_535


@functools.cache
def _values_shape(sql: str) -> tuple[str, str, str, tuple[str, ...]]:
    """The compiled one-row INSERT split into its head, its ``(%(a)s::T, ...)`` row as
    positional ``%s`` placeholders, its ON CONFLICT tail (without RETURNING), and the names
    in the row's order."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    end = sql.index(") ON CONFLICT", start) + 1
    row = sql[start:end]
    tail = sql[end:].split(" RETURNING ")[0]
    return sql[:start], re.sub(r"%\((\w+)\)s", "%s", row), tail, tuple(
        re.findall(r"%\((\w+)\)s", row))


def _many_values(session: Session, sql: str, names: list[str], params: list[dict]) -> int:
    """PostgreSQL: the rows as one multi-row INSERT per chunk. The driver's executemany runs
    the statement once per row in the server (parse, plan, execute, each time), which cost
    more of PostgreSQL's CPU than writing the rows."""
    head, row, tail, order = _values_shape(sql)
    chunk = max(1, min(1000, _PG_MAX_PARAMETERS // max(1, len(order))))
    connection = session.connection()
    written = 0
    for start in range(0, len(params), chunk):
        part = params[start:start + chunk]
        flat = [row_params[name] for row_params in part for name in order]
        text = f"{head}{', '.join([row] * len(part))}{tail}"
        written += connection.exec_driver_sql(text, tuple(flat)).rowcount
    return written
