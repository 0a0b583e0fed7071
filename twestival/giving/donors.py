"""A donor's data rights (GDPR arts. 15, 17, 20): everything held about one donor, and its
erasure. docs/donor-data.md has the design. No Flask here.

A donor is found by their email address: in the archived payloads that name it (Stripe's
``customer_details.email``, PayPal's payer, a charge's billing details), in receipts and in the
mail outbox. Their gifts are the entries those payloads and receipts point to; their Gift Aid
declarations and sandbox checkouts hang off those gifts' Checkout Sessions. Gifts that carry a
name but no address (the JSON API, cash) are found only when the caller also names the donor
exactly (``names``): an address cannot tell us who "Dana" is.

Erasure keeps every amount, id, hash and total, and removes the person: the entries' donor
data and their chain salts (so the sealed digest can never be tied to them again), the
receipts' addresses, the declarations, the mail to them and the archived bodies, which become
a marker naming only when and what the original's SHA-256 was. It is recorded in the audit log
with a salted hash of the address, never the address. One transaction: all or nothing.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, null, select, update
from sqlalchemy.orm import Session

from ..accounts.service import normalise_email
from ..audit import service as audit
from ..audit.models import AuditEntry
from ..campaigns.models import Campaign
from ..errors import InvalidInput
from ..ledger.models import LedgerEntry, LedgerSalt
from ..mail import OutboxMessage
from ..storage.database import utcnow
from ..streams.api import ApiIdempotency
from ..streams.inbox.archive import ERASED, InboundPayload
from .giftaid import GiftAidDeclaration
from .receipts import GiftReceipt
from .sandbox import SandboxCheckout

SCAN = 500                  # archived bodies read at once
# Payload states after which nothing more will be recorded from the body: it can be erased.
SETTLED = {"processed", "rejected", "ignored", "duplicate"}
PERSONAL_CHECKOUT_KEYS = ("donor_name", "message", "email", "name")
CHECKOUT = "checkout:"      # a Stripe Checkout entry's external id: "checkout:cs_…"


@dataclasses.dataclass
class Held:
    """What is held about one donor, as rows (nothing changed yet)."""
    email: str
    payloads: list[InboundPayload]
    entries: list[LedgerEntry]
    receipts: list[GiftReceipt]
    declarations: list[GiftAidDeclaration]
    checkouts: list[SandboxCheckout]
    mails: list[OutboxMessage]

    @property
    def empty(self) -> bool:
        return not (self.payloads or self.entries or self.receipts or self.declarations
                    or self.checkouts or self.mails)


def _names(names: Iterable[str]) -> set[str]:
    return {n.strip().casefold() for n in names if n and n.strip()}


def _names_in(value, names: set[str]) -> bool:
    """Whether a parsed JSON body holds one of ``names`` as a whole string value."""
    if isinstance(value, str):
        return value.strip().casefold() in names
    if isinstance(value, dict):
        return any(_names_in(v, names) for v in value.values())
    if isinstance(value, list):
        return any(_names_in(v, names) for v in value)
    return False


def _payloads(session: Session, email: str, names: set[str],
              campaign_id: int | None) -> list[InboundPayload]:
    """Archived payloads naming the donor. Read in Python, a window at a time: bodies are
    bytes (bytea on PostgreSQL), and a case-blind search inside them is not portable SQL."""
    needle = email.encode()
    body = InboundPayload.__table__.c.body
    query = select(InboundPayload.id, body).where(InboundPayload.status != ERASED)
    if campaign_id is not None:
        query = query.where(InboundPayload.campaign_id == campaign_id)
    found, after = [], 0
    while rows := session.execute(query.where(InboundPayload.id > after)
                                  .order_by(InboundPayload.id).limit(SCAN)).all():
        for payload_id, raw in rows:
            raw = bytes(raw or b"")
            if needle in raw.lower():
                found.append(payload_id)
            elif names:
                try:
                    parsed = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    continue
                if _names_in(parsed, names):
                    found.append(payload_id)
        after = rows[-1][0]
    return [session.get(InboundPayload, i) for i in found]


def find(session: Session, email: str, *, names: Sequence[str] = (),
         campaign: Campaign | None = None) -> Held:
    """Everything held about the donor with this address (and, if given, exactly these
    names), in every campaign or in ``campaign`` only. Raises InvalidInput for a bad address."""
    email = normalise_email(email)
    wanted = _names(names)
    campaign_id = campaign.id if campaign is not None else None

    def scoped(query, model):
        return query if campaign_id is None else query.where(model.campaign_id == campaign_id)

    payloads = _payloads(session, email, wanted, campaign_id)
    receipts = list(session.scalars(scoped(
        select(GiftReceipt).where(func.lower(GiftReceipt.email) == email), GiftReceipt)
        .order_by(GiftReceipt.id)))
    entry_ids = {r.entry_id for r in receipts}
    payload_ids = [p.id for p in payloads]
    for start in range(0, len(payload_ids), SCAN):
        entry_ids.update(session.scalars(select(LedgerEntry.id).where(
            LedgerEntry.payload_id.in_(payload_ids[start:start + SCAN]))))
    if wanted:
        # Compared in Python: casefold() is not SQL, and the names are few per campaign.
        named = scoped(select(LedgerEntry.id, LedgerEntry.donor_name)
                       .where(LedgerEntry.donor_name.is_not(None)), LedgerEntry)
        entry_ids.update(i for i, name in session.execute(named)
                         if name.strip().casefold() in wanted)
    # A refund or dispute of their gift copies their name onto the reversing entry.
    found = sorted(entry_ids)
    for start in range(0, len(found), SCAN):
        entry_ids.update(session.scalars(select(LedgerEntry.id).where(
            LedgerEntry.reverses_id.in_(found[start:start + SCAN]))))
    entries = [session.get(LedgerEntry, i) for i in sorted(entry_ids)]
    sessions = sorted({e.external_id[len(CHECKOUT):] for e in entries
                       if e.stream == "stripe" and e.external_id.startswith(CHECKOUT)})
    declarations = list(session.scalars(select(GiftAidDeclaration).where(
        GiftAidDeclaration.checkout_session.in_(sessions)).order_by(GiftAidDeclaration.id))
    ) if sessions else []
    checkouts = list(session.scalars(select(SandboxCheckout).where(
        SandboxCheckout.id.in_(sessions)).order_by(SandboxCheckout.id))) if sessions else []
    # The outbox is not per campaign; a campaign's desk sees the mail about its own gifts.
    mails = list(session.scalars(select(OutboxMessage).where(
        func.lower(OutboxMessage.to_addr) == email).order_by(OutboxMessage.id)))
    if campaign_id is not None:
        mails = [m for m in mails if campaign.slug.upper() + "-" in m.subject + m.body]
    return Held(email, payloads, entries, receipts, declarations, checkouts, mails)


# --- export ------------------------------------------------------------------------------

def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def _body(raw: bytes):
    """An archived body as JSON when it is JSON, else as base64 (it is kept byte for byte)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return {"base64": base64.b64encode(raw).decode()}


def export(session: Session, held: Held) -> dict:
    """Everything in ``held`` as one JSON-ready document (machine-readable, art. 20)."""
    slugs = dict(session.execute(select(Campaign.id, Campaign.slug)).all())
    return {
        "format": "twestival-donor-export-1",
        "email": held.email,
        "exported_at": _time(utcnow()),
        "gifts": [{
            "id": e.id, "campaign": slugs.get(e.campaign_id), "city_id": e.city_id,
            "stream": e.stream, "external_id": e.external_id, "kind": e.kind.value,
            "amount_minor": e.amount_minor, "currency": e.currency,
            "occurred_at": _time(e.occurred_at), "donor_name": e.donor_name,
            "message": e.message, "anonymous": e.anonymous, "note": e.note, "meta": e.meta,
            "reverses_id": e.reverses_id, "payload_id": e.payload_id} for e in held.entries],
        "receipts": [{
            "id": r.id, "campaign": slugs.get(r.campaign_id), "entry_id": r.entry_id,
            "kind": r.kind, "email": r.email, "lang": r.lang,
            "created_at": _time(r.created_at)} for r in held.receipts],
        "gift_aid_declarations": [{
            "id": d.id, "campaign": slugs.get(d.campaign_id),
            "checkout_session": d.checkout_session, "title": d.title,
            "first_name": d.first_name, "last_name": d.last_name, "house": d.house,
            "postcode": d.postcode, "version": d.version,
            "declared_at": _time(d.declared_at)} for d in held.declarations],
        "checkouts": [{
            "id": c.id, "campaign": slugs.get(c.campaign_id), "amount_minor": c.amount_minor,
            "currency": c.currency, "meta": c.meta,
            "created_at": _time(c.created_at)} for c in held.checkouts],
        "messages": [{
            "id": m.id, "to": m.to_addr, "subject": m.subject, "body": m.body,
            "created_at": _time(m.created_at), "sent_at": _time(m.sent_at)}
            for m in held.mails],
        "payloads": [{
            "id": p.id, "stream": p.stream, "campaign": slugs.get(p.campaign_id),
            "external_id": p.external_id, "sha256": p.sha256, "status": p.status,
            "received_at": _time(p.received_at), "body": _body(bytes(p.body))}
            for p in held.payloads],
    }


# --- erasure -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Erased:
    entries: int
    receipts: int
    declarations: int
    checkouts: int
    mails: int
    payloads: int

    @property
    def total(self) -> int:
        return sum(dataclasses.astuple(self))


def email_digest(email: str, salt: str) -> str:
    """What the audit log keeps of an erased address: enough to answer "was this address
    erased?" by recomputing it, never enough to read it back."""
    return hashlib.sha256(f"{salt}{email}".encode()).hexdigest()


def was_erased(session: Session, email: str) -> list[dt.datetime]:
    """When this address was erased before (from the audit log's salted digests)."""
    email = normalise_email(email)
    return [row.at for row in session.scalars(select(AuditEntry).where(
        AuditEntry.action == "donor.erased").order_by(AuditEntry.id))
        if (row.details or {}).get("digest") == email_digest(email, row.details.get("salt", ""))]


def _marker(payload: InboundPayload, at: dt.datetime) -> bytes:
    return json.dumps({"erased": True, "at": _time(at),
                       "sha256_of_original": payload.sha256}).encode()


def erase(session: Session, held: Held, *, actor_id: int | None = None) -> Erased:
    """Remove the person in ``held``; flushes, the caller commits once (all or nothing), then
    calls ``scrub``."""
    waiting = [p for p in held.payloads if p.status not in SETTLED]
    if waiting:
        # Its money is not in the ledger yet: erasing the body would lose the gift for good.
        first = waiting[0]
        raise InvalidInput(f"archived payload {first.id} ({first.stream}) naming this donor is "
                           f"not processed yet (status {first.status}): replay it, or wait for "
                           "it to settle, then erase; nothing was erased")
    now = utcnow()
    if session.get_bind().dialect.name == "sqlite":
        # Without it SQLite leaves what an UPDATE or DELETE replaced in the file's free space.
        session.connection().exec_driver_sql("PRAGMA secure_delete = ON")
    entry_ids = [e.id for e in held.entries]
    personal = [e for e in held.entries
                if any(v is not None for v in (e.donor_name, e.message, e.note, e.meta))]
    for start in range(0, len(entry_ids), SCAN):
        # The salt goes first: the ledger's trigger lets donor data be blanked only on an
        # entry whose salt is gone, so the chain's digest can never be tied to them again.
        session.execute(delete(LedgerSalt).where(
            LedgerSalt.entry_id.in_(entry_ids[start:start + SCAN])))
    for entry in personal:
        # SQL NULLs (not JSON null): the only UPDATE the append-only trigger lets through.
        session.execute(update(LedgerEntry.__table__)
                        .where(LedgerEntry.__table__.c.id == entry.id)
                        .values(donor_name=null(), message=null(), note=null(), meta=null()))
    for start in range(0, len(entry_ids), SCAN):
        # The API's stored answer to a retried call echoes the name and message back.
        for stored in session.scalars(select(ApiIdempotency).where(
                ApiIdempotency.entry_id.in_(entry_ids[start:start + SCAN]))):
            stored.response = {**stored.response, "donor_name": None, "message": None}
    for receipt in held.receipts:
        # The row stays: it is what stops a replayed payment from mailing a second receipt.
        receipt.email = ""
    for declaration in held.declarations:
        session.delete(declaration)
    for checkout in held.checkouts:
        checkout.meta = {k: v for k, v in (checkout.meta or {}).items()
                         if k not in PERSONAL_CHECKOUT_KEYS}
    for mail in held.mails:
        session.delete(mail)
    for payload in held.payloads:
        payload.body = _marker(payload, now)
        payload.status = ERASED
        payload.error = None
    session.flush()
    session.expire_all()
    counts = Erased(len(personal), len(held.receipts), len(held.declarations),
                    len(held.checkouts), len(held.mails), len(held.payloads))
    if counts.total:
        salt = os.urandom(16).hex()
        campaigns = sorted({e.campaign_id for e in held.entries}
                           | {p.campaign_id for p in held.payloads if p.campaign_id}
                           | {r.campaign_id for r in held.receipts}) or [None]
        for campaign_id in campaigns:
            audit.record(session, actor_id, "donor.erased", subject="a donor (erased)",
                         campaign_id=campaign_id,
                         details={"salt": salt, "digest": email_digest(held.email, salt),
                                  **dataclasses.asdict(counts)})
    return counts


def scrub(session: Session) -> None:
    """After the erasure's commit, on SQLite: copy the write-ahead log into the database and
    empty it, so no older page image naming the donor stays in the -wal file. (PostgreSQL
    keeps old row versions until VACUUM: docs/donor-data.md.)"""
    engine = session.get_bind()
    if engine.dialect.name == "sqlite":
        # A checkpoint cannot run inside a transaction, and every SQLAlchemy connection here
        # begins one: a plain connection of our own, in autocommit.
        connection = sqlite3.connect(engine.url.database, isolation_level=None)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            connection.close()
