"""The hash chain over each campaign's ledger (docs/ledger-chain.md has the full design).

Every way money enters the ledger (``record``, ``record_many``, an import's INSERT .. SELECT)
notes the entries it wrote on the session; just before the transaction commits, ``seal``
links them, in id order, to the end of their campaign's chain: it locks the campaign's
``ledger_chain_head`` row (SELECT .. FOR UPDATE on PostgreSQL; SQLite's writer already holds
the database's write lock), hashes each entry as the database now holds it, and moves the
head. One chain head row per campaign makes the chain one sequence whichever process or
group of webhooks commits first. Entries written around the ledger's functions are noted by
nobody, are never linked, and ``verify`` names them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.orm import Session

from ..storage.database import utcnow
from .models import ChainHead, LedgerEntry, LedgerLink, LedgerSalt
from ..storage.sql import prepared_insert_ignore

VERSION = "twestival-ledger-1"
GENESIS = "0" * 64
PENDING_KEY = "twestival.ledger.chain.pending"
CHUNK = 900

# The entry's columns the chain commits to directly, in this order (docs/ledger-chain.md).
FIELDS = ("id", "campaign_id", "city_id", "stream", "external_id", "kind", "amount_minor",
          "currency", "fee_minor", "city_minor", "city_fx_rate", "city_fx_date",
          "reporting_minor", "reporting_currency", "fx_rate", "fx_date", "occurred_at",
          "recorded_at", "anonymous", "provisional", "reverses_id", "payload_id",
          "created_by_id")
# What may name a person: committed to only through a salted digest, so it can be erased.
PERSONAL = ("donor_name", "message", "note", "meta")

_entry = LedgerEntry.__table__.c
COLUMNS = [_entry[name] for name in FIELDS + PERSONAL]


# --- the canonical encoding ------------------------------------------------------------------

def _utc(value: dt.datetime) -> str:
    if value.utcoffset():
        value = value.astimezone(dt.timezone.utc)
    text = value.isoformat(timespec="microseconds")
    return (text[:-6] if value.tzinfo is not None else text) + "Z"


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _kind(value) -> str:
    return value.value if hasattr(value, "value") else value


_TEXT = {name: str for name in ("id", "campaign_id", "city_id", "amount_minor", "fee_minor",
                                "city_minor", "reporting_minor", "reverses_id", "payload_id",
                                "created_by_id")}
_TEXT.update({"kind": _kind, "city_fx_date": dt.date.isoformat, "fx_date": dt.date.isoformat,
              "occurred_at": _utc, "recorded_at": _utc, "anonymous": _flag, "provisional": _flag})
# One converter per field, in FIELDS order (strings stay as they are).
CONVERTERS = tuple(_TEXT.get(name) for name in FIELDS)
_LINK_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))
_PERSONAL_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def fields_of(values: Sequence) -> list[str | None]:
    """The entry's FIELDS (given in that order) as the text the hash covers: integers in
    decimal, dates ISO, times UTC with microseconds and a Z, booleans true/false, None None."""
    return [value if value is None or convert is None else convert(value)
            for value, convert in zip(values, CONVERTERS)]


def personal_digest(personal: Sequence, salt: str | None) -> str | None:
    """SHA-256 of the salt and the PERSONAL values (given in that order); None without data."""
    if salt is None or all(v is None for v in personal):
        return None
    return hashlib.sha256(f"{salt}{_PERSONAL_JSON.encode(list(personal))}".encode()).hexdigest()


def link_hash(position: int, previous: str, fields: Sequence[str | None],
              personal: str | None) -> str:
    encoded = _LINK_JSON.encode([VERSION, str(position), previous, *fields, personal])
    return hashlib.sha256(encoded.encode()).hexdigest()


# --- noting and sealing ----------------------------------------------------------------------

def note_ids(session: Session, campaign_id: int, ids: Iterable[int]) -> None:
    pending = session.info.setdefault(PENDING_KEY, {})
    pending.setdefault(campaign_id, (set(), {}))[0].update(ids)


def note_keys(session: Session, campaign_id: int, stream: str,
              external_ids: Iterable[str]) -> None:
    pending = session.info.setdefault(PENDING_KEY, {})
    by_stream = pending.setdefault(campaign_id, (set(), {}))[1]
    by_stream.setdefault(stream, set()).update(external_ids)


_head = ChainHead.__table__.c
_HEAD_FOR_UPDATE = (select(_head.entries, _head.head)
                    .where(_head.campaign_id == bindparam("campaign_id"))
                    .with_for_update())
_MOVE_HEAD = (update(ChainHead.__table__)
              .where(ChainHead.__table__.c.campaign_id == bindparam("p_campaign_id"))
              .values(entries=bindparam("p_entries"), head=bindparam("p_head"),
                      updated_at=bindparam("p_now", type_=ChainHead.__table__.c.updated_at.type)))


def lock_head(session: Session, campaign_id: int) -> tuple[int, str]:
    # Core statements on the session's connection: the ORM's per-statement work is not needed.
    connection = session.connection()
    row = connection.execute(_HEAD_FOR_UPDATE, {"campaign_id": campaign_id}).first()
    if row is None:   # the campaign's first entry (two first writers: one insert counts)
        connection.execute(prepared_insert_ignore(session, ChainHead.__table__, ("campaign_id",)),
                           {"campaign_id": campaign_id, "entries": 0, "head": GENESIS,
                            "updated_at": utcnow()})
        row = connection.execute(_HEAD_FOR_UPDATE, {"campaign_id": campaign_id}).one()
    return row.entries, row.head


# Built once: building a statement costs more CPU than running it.
_link = LedgerLink.__table__.c
# Noted entries without a link: a savepoint may have rolled one back, and another process
# may have written the same (stream, external_id) since, and linked it under the head lock.
_UNLINKED = (select(*COLUMNS).select_from(LedgerEntry.__table__)
             .outerjoin(LedgerLink.__table__, _link.entry_id == _entry.id)
             .where(_entry.campaign_id == bindparam("campaign_id"), _link.entry_id.is_(None)))
_BY_IDS = _UNLINKED.where(_entry.id.in_(bindparam("ids", expanding=True)))
_BY_KEYS = _UNLINKED.where(_entry.stream == bindparam("stream"),
                           _entry.external_id.in_(bindparam("keys", expanding=True)))


def _prepared(row) -> tuple[int, list[str | None], Sequence]:
    """(entry id, the FIELDS as text, the PERSONAL values) of a row of COLUMNS."""
    split = len(FIELDS)
    return row[0], fields_of(row[:split]), row[split:]


def _unlinked(session: Session, campaign_id: int, ids: set[int],
              keys: dict[str, set[str]]) -> list:
    """The noted entries that exist and have no link yet, in id order, ``_prepared``. Called
    with the campaign's head locked, so no other transaction links any of them meanwhile."""
    if session.get_bind().dialect.name == "sqlite":
        return _unlinked_sqlite(session, campaign_id, ids, keys)
    found = {}
    connection = session.connection()
    asks = [(_BY_IDS, {}, "ids", sorted(ids))] + [
        (_BY_KEYS, {"stream": stream}, "keys", sorted(external_ids))
        for stream, external_ids in keys.items()]
    for statement, params, name, wanted in asks:
        for start in range(0, len(wanted), CHUNK):
            for row in connection.execute(statement, {"campaign_id": campaign_id, **params,
                                                      name: wanted[start:start + CHUNK]}
                                          ).fetchall():
                found[row[0]] = row
    return [_prepared(found[i]) for i in sorted(found)]


# --- SQLite: the same text straight from the stored values --------------------------------
# An import links every row it records; reading them back through SQLAlchemy's types (to
# datetimes, dates, enums and back to text) cost more than recording them. On SQLite the
# stored values are already the text the hash covers, or one step from it. ``verify`` reads
# them through SQLAlchemy, so any difference between the two would show there at once.

def _sqlite_time(value: str) -> str:
    # As SQLAlchemy stores a DateTime on SQLite: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC.
    return value.replace(" ", "T") + ("Z" if len(value) > 19 else ".000000Z")


def _sqlite_flag(value: int) -> str:
    return "true" if value else "false"


_SQLITE_TEXT = {name: str for name, convert in _TEXT.items() if convert is str}
_SQLITE_TEXT.update({"occurred_at": _sqlite_time, "recorded_at": _sqlite_time,
                     "anonymous": _sqlite_flag, "provisional": _sqlite_flag})
_SQLITE_CONVERTERS = tuple(_SQLITE_TEXT.get(name) for name in FIELDS)
# ``+e.campaign_id``: not an index term. Without statistics SQLite otherwise reads the whole
# campaign through (campaign_id, id) to find a few (stream, external_id) keys.
_SQLITE_SELECT = (
    f"SELECT {', '.join('e.' + name for name in FIELDS + PERSONAL)} FROM ledger_entry AS e "
    "LEFT JOIN ledger_link AS l ON l.entry_id = e.id "
    "WHERE +e.campaign_id = ? AND l.entry_id IS NULL AND ")


def _unlinked_sqlite(session: Session, campaign_id: int, ids: set[int],
                     keys: dict[str, set[str]]) -> list:
    connection = session.connection()
    found = {}
    asks = [("e.id", (), sorted(ids))] + [
        ("e.stream = ? AND e.external_id", (stream,), sorted(external_ids))
        for stream, external_ids in keys.items()]
    split = len(FIELDS)
    for column, fixed, wanted in asks:
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start:start + CHUNK]
            sql = f"{_SQLITE_SELECT}{column} IN ({', '.join('?' * len(part))})"
            for row in connection.exec_driver_sql(sql, (campaign_id, *fixed, *part)).fetchall():
                fields = [value if value is None or convert is None else convert(value)
                          for value, convert in zip(row[:split], _SQLITE_CONVERTERS)]
                donor_name, message, note, meta = row[split:]
                found[row[0]] = (row[0], fields, (donor_name, message, note,
                                                  None if meta is None else json.loads(meta)))
    return [found[i] for i in sorted(found)]


def extend(session: Session, campaign_id: int, rows: list,
           locked: tuple[int, str] | None = None) -> None:
    """Link ``rows`` (entries of one campaign, ``_prepared``, in order) after the campaign's
    head, ``locked`` already or locked here."""
    entries, head = locked or lock_head(session, campaign_id)
    links, salts = [], []
    for entry_id, fields, personal_values in rows:
        entries += 1
        salt = personal = None
        if any(v is not None for v in personal_values):
            salt = os.urandom(16).hex()
            personal = personal_digest(personal_values, salt)
            salts.append({"entry_id": entry_id, "salt": salt})
        head = link_hash(entries, head, fields, personal)
        links.append({"entry_id": entry_id, "campaign_id": campaign_id, "position": entries,
                      "personal": personal, "hash": head})
    if links:
        from .bulk import fast_insert   # here: bulk imports this module
        if fast_insert(session, LedgerLink.__table__, links, ["entry_id"]) != len(links):
            raise RuntimeError("an entry was linked twice: the chain is not extended")
        if salts:
            fast_insert(session, LedgerSalt.__table__, salts, ["entry_id"])
        session.connection().execute(_MOVE_HEAD, {
            "p_campaign_id": campaign_id, "p_entries": entries, "p_head": head,
            "p_now": utcnow()})


def backfill(session: Session, campaign_id: int, chunk: int = 10_000) -> int:
    """Link a campaign's entries that have no link yet, in id order (for databases from
    before the chain; the migration runs it). Returns how many it linked."""
    linked = 0
    after = session.scalar(select(func.max(LedgerLink.entry_id))
                           .where(LedgerLink.campaign_id == campaign_id)) or 0
    while rows := list(session.execute(
            select(*COLUMNS).where(_entry.campaign_id == campaign_id, _entry.id > after)
            .order_by(_entry.id).limit(chunk))):
        extend(session, campaign_id, [_prepared(row) for row in rows])
        linked += len(rows)
        after = rows[-1][0]
    return linked


def seal(session: Session) -> None:
    """Link every entry this transaction noted; campaigns in id order, so two transactions
    that touch the same campaigns lock their heads in the same order."""
    pending = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    for campaign_id in sorted(pending):
        ids, keys = pending[campaign_id]
        locked = lock_head(session, campaign_id)
        rows = _unlinked(session, campaign_id, ids, keys)
        if rows:
            extend(session, campaign_id, rows, locked)


@event.listens_for(Session, "before_commit")
def _seal_before_commit(session: Session) -> None:
    seal(session)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    # Whatever a rolled-back transaction noted is gone with it.
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)
