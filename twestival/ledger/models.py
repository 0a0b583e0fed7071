"""Ledger tables. Entries are append-only (enforced by database triggers); totals are a cache
of the entries kept in step in the same transaction, and can always be recomputed."""
from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DDL, Enum, ForeignKey, Index, Integer,
                        String, Text, UniqueConstraint, event)
from sqlalchemy.orm import Mapped, mapped_column

from ..storage.database import Base, UTCDateTime, utcnow


class EntryKind(str, enum.Enum):
    donation = "donation"
    refund = "refund"
    chargeback = "chargeback"
    reversal = "reversal"
    adjustment = "adjustment"


class LedgerEntry(Base):
    __tablename__ = "ledger_entry"
    __table_args__ = (
        UniqueConstraint("stream", "external_id"),
        Index("ix_ledger_entry_campaign_city", "campaign_id", "city_id"),
        Index("ix_ledger_entry_campaign_id_id", "campaign_id", "id"),   # the gift wall, newest first
        # What a payload recorded: read after every payment (matches, receipts), and by replay
        # and erasure. Without it each webhook scanned every entry of its stream.
        Index("ix_ledger_entry_payload_id", "payload_id"),
        # The night's largest gifts (live.celebrate), read on every push with gifts.
        Index("ix_ledger_entry_campaign_reporting", "campaign_id", "reporting_minor"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    # NULL: the campaign's unassigned queue, waiting for a coordinator to place it.
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    stream: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[EntryKind] = mapped_column(Enum(EntryKind, native_enum=False, length=16))

    # The amount as it arrived: never overwritten, whatever conversions follow.
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    fee_minor: Mapped[int | None] = mapped_column(BigInteger)

    # The same amount in the city's currency (NULL while unassigned) ...
    city_minor: Mapped[int | None] = mapped_column(BigInteger)
    city_fx_rate: Mapped[str | None] = mapped_column(String(32))
    city_fx_date: Mapped[dt.date | None] = mapped_column(Date)
    # ... and in the campaign's reporting currency, with the rate used and the rate's date.
    reporting_minor: Mapped[int] = mapped_column(BigInteger)
    reporting_currency: Mapped[str] = mapped_column(String(3))
    fx_rate: Mapped[str] = mapped_column(String(32))
    fx_date: Mapped[dt.date] = mapped_column(Date)

    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    donor_name: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # Counted at once but marked as such until confirmed (cash before the bank deposit).
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_payload.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    note: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict | None] = mapped_column(JSON)

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.id} {self.kind.value} {self.amount_minor} {self.currency}>"


class EntryConfirmation(Base):
    """A provisional entry confirmed (by a coordinator or a matched bank deposit). Append-only."""
    __tablename__ = "entry_confirmation"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), unique=True)
    method: Mapped[str] = mapped_column(String(32))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reference: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntryFee(Base):
    """A provider's fee learnt after its entry was written: Stripe tells a card donation's fee
    only through the charge's balance transaction, which comes later. Append-only: the first
    word stands (a balance transaction never changes).

    The fee is kept as the provider stated it (``fee_minor`` in ``currency``). When it was
    settled in another currency than the entry's (a card charged in GBP, paid out in USD), it is
    also kept converted into the entry's currency (``entry_minor``) at the rate that applied:
    ``fx_rate`` units of the fee's currency for one of the entry's, on ``fx_date``, from
    ``fx_source`` ("stripe": the balance transaction's own rate; "ecb": ours)."""
    __tablename__ = "entry_fee"

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), primary_key=True)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    source: Mapped[str] = mapped_column(String(200))   # e.g. the balance transaction's id
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_payload.id"))
    learnt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    entry_minor: Mapped[int | None] = mapped_column(BigInteger)  # None: same currency
    fx_rate: Mapped[str | None] = mapped_column(String(32))
    fx_date: Mapped[dt.date | None] = mapped_column(Date)
    fx_source: Mapped[str | None] = mapped_column(String(16))


class CityTotal(Base):
    __tablename__ = "city_total"

    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    raised_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    raised_reporting_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    provisional_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    provisional_reporting_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    donations: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnassignedTotal(Base):
    __tablename__ = "unassigned_total"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    reporting_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)


class LedgerLink(Base):
    """An entry's place in its campaign's hash chain (docs/ledger-chain.md). Append-only.

    ``hash`` is SHA-256 over the canonical encoding of the entry's money fields, ids and rates,
    its ``position``, the previous link's hash and ``personal``: the salted SHA-256 of the
    donor's data (None when the entry holds none), so the chain commits to that data without
    containing it."""
    __tablename__ = "ledger_link"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), primary_key=True,
                                          autoincrement=False)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    position: Mapped[int] = mapped_column(BigInteger)
    personal: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class LedgerSalt(Base):
    """The salt of an entry's ``personal`` digest. Not append-only on purpose: erasing a
    donor deletes it with their data, and the digest can then never be tied to them again."""
    __tablename__ = "ledger_salt"

    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), primary_key=True,
                                          autoincrement=False)
    salt: Mapped[str] = mapped_column(String(32))


class ChainHead(Base):
    """The last link of a campaign's chain; its row is locked while a transaction extends it,
    so the chain stays one sequence whichever process writes."""
    __tablename__ = "ledger_chain_head"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), primary_key=True,
                                             autoincrement=False)
    entries: Mapped[int] = mapped_column(BigInteger, default=0)
    head: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class FxRate(Base):
    """Reference rates as units of ``currency`` per euro (the ECB's quotation).

    ``source`` is "ecb", "fixed" (a euro predecessor's conversion rate) or "entered": a rate a
    coordinator typed in for a currency the ECB does not publish, with where it came from
    (``note``, e.g. "Central Bank of Kenya"), who entered it and when. An entered rate is
    never changed: a new rate is a new row with its own date."""
    __tablename__ = "fx_rate"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    per_eur: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16), default="ecb")
    note: Mapped[str | None] = mapped_column(String(200))
    # The email, not a foreign key: the record of who entered a rate outlives the account.
    entered_by: Mapped[str | None] = mapped_column(String(254))
    entered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- append-only enforcement, shared by create_all (tests) and the migrations -------------

APPEND_ONLY_TABLES = ("ledger_entry", "entry_confirmation", "entry_fee", "ledger_link")

# SQLite's INSERT OR REPLACE deletes the row in its way without firing DELETE triggers (unless
# recursive_triggers is on, which a raw connection does not set), so a replacement is refused
# before it starts: an existing primary key aborts, an existing natural key is skipped
# (RAISE(IGNORE) is what ON CONFLICT DO NOTHING does, which every writer here uses for it).
REPLACE_GUARDS = {
    "ledger_entry": (("id",), ("stream", "external_id")),
    "entry_confirmation": (("id",), ("entry_id",)),
    "entry_fee": ((), ("entry_id",)),
    "ledger_link": (("entry_id",), ("campaign_id", "position")),
}


def no_replace_ddl(table: str) -> list[str]:
    primary, natural = REPLACE_GUARDS[table]
    steps = []
    if primary:
        match = " AND ".join(f"{c} = NEW.{c}" for c in primary)
        steps.append(f"SELECT RAISE(ABORT, '{table} is append-only: that row exists') "
                     f"WHERE EXISTS (SELECT 1 FROM {table} WHERE {match});")
    match = " AND ".join(f"{c} = NEW.{c}" for c in natural)
    steps.append(f"SELECT RAISE(IGNORE) WHERE EXISTS (SELECT 1 FROM {table} WHERE {match});")
    return [f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} "
            f"BEGIN {' '.join(steps)} END"]


def append_only_ddl(dialect: str, tables: tuple[str, ...] = APPEND_ONLY_TABLES) -> list[str]:
    statements: list[str] = []
    if dialect == "sqlite":
        for table in tables:
            for op in ("UPDATE", "DELETE"):
                statements.append(
                    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: "
                    f"record a reversing entry instead'); END")
    elif dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION twestival_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only: record a reversing entry instead', TG_TABLE_NAME; "
            "END $$ LANGUAGE plpgsql")
        for table in tables:
            statements.append(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION twestival_append_only()")
    return statements


# The one exception to append-only (docs/donor-data.md): erasing a donor may set an entry's
# donor data to NULL, and nothing else, once the entry's chain salt is gone. Every other
# UPDATE is refused as before. The chain is what makes this safe: it commits to the donor
# data only through the salted digest in ``ledger_link.personal``, and ``verify`` accepts a
# salt-less entry only when that data is empty.
ERASABLE = "ledger_entry"
ERASABLE_COLUMNS = ("donor_name", "message", "note", "meta")
KEPT_COLUMNS = ("id", "campaign_id", "city_id", "stream", "external_id", "kind",
                "amount_minor", "currency", "fee_minor", "city_minor", "city_fx_rate",
                "city_fx_date", "reporting_minor", "reporting_currency", "fx_rate", "fx_date",
                "occurred_at", "recorded_at", "anonymous", "provisional", "reverses_id",
                "payload_id", "created_by_id")
_REFUSED = "ledger_entry is append-only: record a reversing entry instead"


def erasable_ddl(dialect: str) -> list[str]:
    """Replace ledger_entry's UPDATE guard with one that lets through only an erasure."""
    blank = " AND ".join(f"NEW.{c} IS NULL" for c in ERASABLE_COLUMNS)
    unsalted = "NOT EXISTS (SELECT 1 FROM ledger_salt WHERE entry_id = OLD.id)"
    if dialect == "sqlite":
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT_COLUMNS)
        return ["DROP TRIGGER IF EXISTS ledger_entry_no_update",
                "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry "
                f"WHEN NOT ({blank} AND {same} AND {unsalted}) "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSED}'); END"]
    if dialect == "postgresql":
        # Every column but the erasable ones compared at once, so a column added later is
        # guarded without touching this function.
        erasable = "ARRAY[" + ", ".join(f"'{c}'" for c in ERASABLE_COLUMNS) + "]"
        return [
            "CREATE OR REPLACE FUNCTION twestival_erasure_only() RETURNS trigger AS $$ BEGIN "
            f"IF {blank} AND to_jsonb(NEW) - {erasable} = to_jsonb(OLD) - {erasable} "
            f"AND {unsalted} THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{_REFUSED}'; END $$ LANGUAGE plpgsql",
            "DROP TRIGGER IF EXISTS ledger_entry_append_only ON ledger_entry",
            "DROP TRIGGER IF EXISTS ledger_entry_no_delete ON ledger_entry",
            "DROP TRIGGER IF EXISTS ledger_entry_no_update ON ledger_entry",
            "CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry "
            "FOR EACH ROW EXECUTE FUNCTION twestival_append_only()",
            "CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry "
            "FOR EACH ROW EXECUTE FUNCTION twestival_erasure_only()"]
    return []


def _attach_triggers(table_name: str) -> None:
    table = Base.metadata.tables[table_name]
    for dialect in ("sqlite", "postgresql"):
        for sql in append_only_ddl(dialect):
            if f" ON {table_name} " in sql:
                event.listen(table, "after_create", DDL(sql).execute_if(dialect=dialect))
            elif "FUNCTION twestival_append_only" in sql and table_name == APPEND_ONLY_TABLES[0]:
                event.listen(table, "before_create", DDL(sql).execute_if(dialect=dialect))
    for sql in no_replace_ddl(table_name):
        event.listen(table, "after_create", DDL(sql).execute_if(dialect="sqlite"))
    if table_name == ERASABLE:
        for dialect in ("sqlite", "postgresql"):
            for sql in erasable_ddl(dialect):
                event.listen(table, "after_create", DDL(sql).execute_if(dialect=dialect))


for _name in APPEND_ONLY_TABLES:
    _attach_triggers(_name)
