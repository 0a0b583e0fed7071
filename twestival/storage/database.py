"""SQLAlchemy base, column types and engine set-up, free of Flask.

The domain modules (ledger, streams, planning) declare their tables on ``Base`` and take a plain
``Session``; the web layer hands them Flask-SQLAlchemy's scoped session.
"""
from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import TypeVar

from sqlalchemy import DateTime, Engine, MetaData, event
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    make_transient_to_detached,
    scoped_session,
)
from sqlalchemy.types import TypeDecorator

from . import writelock

T = TypeVar("T")

# Stable constraint names, so Alembic migrations can name what they alter or drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    SQLite drops the offset, so values are stored as naive UTC and tagged on the way back.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# SQLite: a transaction that reads and then writes can fail at once with SQLITE_BUSY when another
# writer committed in between (WAL snapshots cannot be upgraded). So transactions take the write
# lock up front (BEGIN IMMEDIATE) unless the caller declared itself read-only, which GET requests
# and live snapshots do. Writers then queue on the busy timeout instead of failing.
_read_only: contextvars.ContextVar[bool] = contextvars.ContextVar("twestival_read_only", default=False)


@contextlib.contextmanager
def read_only() -> Iterator[None]:
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


def set_read_only(value: bool) -> contextvars.Token:
    return _read_only.set(value)


def reset_read_only(token: contextvars.Token) -> None:
    _read_only.reset(token)


SQLITE_BUSY_TIMEOUT_MS = 30_000


def _plain_savepoints(dialect) -> None:
    """SAVEPOINT, RELEASE and ROLLBACK TO as plain text. SQLAlchemy compiles each anew (the
    name differs every time, so its statement cache never holds one), and a webhook group's
    savepoints cost it ~5 % of its CPU that way. Its names (sa_savepoint_N) need no quoting."""
    dialect.do_savepoint = lambda connection, name: connection.exec_driver_sql(
        f"SAVEPOINT {name}")
    dialect.do_release_savepoint = lambda connection, name: connection.exec_driver_sql(
        f"RELEASE SAVEPOINT {name}")
    dialect.do_rollback_to_savepoint = lambda connection, name: connection.exec_driver_sql(
        f"ROLLBACK TO SAVEPOINT {name}")


def configure_engine(engine: Engine, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> None:
    """Pragmas and transaction handling that every connection needs."""
    _plain_savepoints(engine.dialect)
    if engine.dialect.name != "sqlite":
        return
    flag = writelock.flag_path(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (savepoints work then).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if _gevent_patched():
            # SQLite's own busy wait sleeps in C, which stops every greenlet of the process
            # while another process holds the write lock; the wait for it is ours instead.
            cursor.execute("PRAGMA busy_timeout=0")
            record.info[COOPERATIVE] = True
        if engine in CHECKPOINTED:
            cursor.execute("PRAGMA wal_autocheckpoint=0")   # see twestival.storage.checkpoints
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        _attach_wanted(conn)
        if _read_only.get():
            conn.exec_driver_sql("BEGIN")
            return
        dbapi_connection = conn.connection.dbapi_connection
        # Threads wait the same way as greenlets (SQLite's own wait cannot signal it, see
        # writelock), and keep the busy timeout for everything else.
        threaded = not conn.info.get(COOPERATIVE)
        if threaded:
            dbapi_connection.execute("PRAGMA busy_timeout=0")
        try:
            if not writelock.begin_immediate(dbapi_connection, busy_timeout_ms, flag):
                conn.exec_driver_sql("BEGIN IMMEDIATE")   # a last try; raises SQLAlchemy's error
        finally:
            if threaded:
                dbapi_connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection, record):
        attached = record.info.pop(ATTACHED, None)
        if attached is not None:
            name, cleanup = attached
            for statement in cleanup:
                dbapi_connection.execute(statement)
            dbapi_connection.execute(f"DETACH DATABASE {name}")


COOPERATIVE = "twestival.cooperative_busy_wait"
# Engines whose WAL a thread of this process checkpoints (twestival.storage.checkpoints)
CHECKPOINTED: weakref.WeakSet[Engine] = weakref.WeakSet()
ATTACHED = "twestival.attached"
# thread (or greenlet) -> (file, schema name, statements to run before it is detached)
_attach_for: dict[int, tuple[str, str, tuple[str, ...]]] = {}


@contextlib.contextmanager
def attached(path: str, name: str, cleanup: tuple[str, ...] = ()) -> Iterator[None]:
    """SQLite: ``path`` attached as schema ``name`` to every connection this thread (or
    greenlet) begins a transaction on inside the block. ATTACH and DETACH cannot run inside a
    transaction, so a connection gets it just before its BEGIN and loses it when it goes back to
    the pool (after ``cleanup``): no other thread ever sees it, and the listeners that do it are
    installed once, with the engine, not added while other threads use the engine."""
    owner = threading.get_ident()
    _attach_for[owner] = (path, name, cleanup)
    try:
        yield
    finally:
        del _attach_for[owner]


def _attach_wanted(conn) -> None:
    wanted = _attach_for.get(threading.get_ident()) if _attach_for else None
    if wanted is None or ATTACHED in conn.info:
        return
    path, name, cleanup = wanted
    conn.connection.dbapi_connection.execute(f"ATTACH DATABASE ? AS {name}", (path,))
    conn.info[ATTACHED] = (name, cleanup)


def _gevent_patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return False
    return monkey.is_module_patched("time")


def commit_keeping_loaded(session: Session) -> None:
    """Commit without expiring the objects the session holds.

    For the archive commit in the middle of a request: the payload just written and the rows
    looked up to authorise it are what the database holds, and reading each back again after
    the commit would cost a query apiece. Later commits expire as usual.
    """
    real = session() if isinstance(session, scoped_session) else session
    before, real.expire_on_commit = real.expire_on_commit, False
    try:
        real.commit()
    finally:
        real.expire_on_commit = before


def as_loaded(session: Session, model: type[T], values: Mapping) -> T:
    """A row just written (every column: what INSERT ... RETURNING gave back), in the session as
    if a query had loaded it, so nothing reads back what was just written."""
    obj = model(**values)
    if session.identity_key(model, _identity(model, obj)) in session.identity_map:
        # An id given out again after a rollback (SQLite reuses it): load it over the old one.
        return session.get(model, _identity(model, obj), populate_existing=True)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def _identity(model, obj):
    keys = [getattr(obj, c.key) for c in model.__mapper__.primary_key]
    return keys[0] if len(keys) == 1 else tuple(keys)
