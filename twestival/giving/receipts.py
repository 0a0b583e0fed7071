"""Thank-you receipts: one per gift, in the donor's language, exactly once.

A receipt is a row keyed on (campaign, entry) written in the same transaction as the entry
(``issue`` runs after processing, before the commit), and its mail goes to the outbox in that
transaction too, so a redelivered, retried or replayed payment, or two processes handling it at
once, find the row there and mail nothing. A refund gets a short notice instead, keyed the
same way on the refund's entry. The donor's address comes from the archived payload (Stripe
Checkout's ``customer_details.email``, PayPal's ``payer.email_address``): it is used for the
receipt only and never shown publicly. No Flask here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence

from babel.dates import format_date
from sqlalchemy import ForeignKey, String, UniqueConstraint, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .. import mail
from ..campaigns.models import Campaign, City
from ..languages import LANGUAGES, translator
from ..ledger.models import EntryKind, LedgerEntry
from ..money import Money, format_money
from ..storage.database import Base, UTCDateTime, utcnow
from ..storage.sql import insert_ignore, prepared_insert_ignore

log = logging.getLogger(__name__)
STREAMS = {"stripe", "paypal"}


class GiftReceipt(Base):
    """A receipt (``kind`` "receipt") or a refund notice ("refund") sent for one entry."""
    __tablename__ = "gift_receipt"
    __table_args__ = (UniqueConstraint("campaign_id", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"))
    kind: Mapped[str] = mapped_column(String(8))
    email: Mapped[str] = mapped_column(String(254))
    lang: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    def number(self, campaign: Campaign) -> str:
        return receipt_number(campaign, self.id)


def receipt_number(campaign: Campaign | _Place, receipt_id: int) -> str:
    """Unique per campaign (row ids are unique everywhere), and says whose it is."""
    return f"{campaign.slug.upper()}-{receipt_id:06d}"


def donors(rows: Sequence[tuple[LedgerEntry, bytes]],  # entries or rows with their columns
           lang: str | None = None) -> dict[int, tuple[str, str]]:
    """Each gift's donor who can be thanked: {entry id: (email, language)}, read from the
    payment provider's own body that came with it. ``lang``: the donor's language when the body
    cannot tell (a PayPal order, captured while the donor's browser waits)."""
    found = {}
    for entry, body in rows:
        if entry.kind == EntryKind.donation and entry.stream in STREAMS:
            email, language = _donor(body, lang)
            if email is not None:
                found[entry.id] = (email, language)
    return found


def issue(session: Session, entries: Sequence[LedgerEntry],
          thanked: dict[int, tuple[str, str]]) -> int:
    """Receipts for these gifts (their donors from ``donors``) and notices for these refunds;
    returns how many went out."""
    gifts = [entry for entry in entries if entry.id in thanked]
    sent = _receipts(session, gifts, thanked) if gifts else 0
    for entry in entries:
        if (entry.id not in thanked and entry.kind == EntryKind.refund
                and entry.reverses_id is not None):
            sent += _refund_notice(session, entry)
    return sent


_receipt_table = GiftReceipt.__table__


def _receipts(session: Session, gifts: Sequence[LedgerEntry],
              thanked: dict[int, tuple[str, str]]) -> int:
    """One receipt row and one mail per gift, written a group at a time: on a busy night this
    runs for every webhook group, inside its write transaction."""
    mailable = {gift.id: mail.checked(thanked[gift.id][0]) for gift in gifts}
    for gift in gifts:
        if mailable[gift.id] is None:
            log.warning("receipt not sent: the donor's address is not one we can mail")
    gifts = [gift for gift in gifts if mailable[gift.id] is not None]
    if not gifts:
        return 0
    now = utcnow()
    # Only rows written here come back: a redelivery, a replay or another process that wrote
    # a gift's receipt first leaves this call nothing to mail for it.
    claimed = dict(session.execute(
        prepared_insert_ignore(session, _receipt_table, ("campaign_id", "entry_id"),
                               ("entry_id", "id")),
        [{"campaign_id": gift.campaign_id, "entry_id": gift.id, "kind": "receipt",
          "email": mailable[gift.id], "lang": thanked[gift.id][1], "created_at": now}
         for gift in gifts]).all())
    places = _places(session, {(gift.campaign_id, gift.city_id) for gift in gifts
                               if gift.id in claimed})
    messages = [_receipt(gift, *places[gift.campaign_id, gift.city_id], mailable[gift.id],
                         thanked[gift.id][1], claimed[gift.id])
                for gift in gifts if gift.id in claimed]
    mail.queue_many(session, messages)
    return len(messages)


@dataclasses.dataclass(frozen=True, slots=True)
class _Place:
    """What a receipt says of its campaign or city."""
    slug: str = ""
    name: str = ""
    charity: str | None = None


_campaign_cols, _city_cols = Campaign.__table__.c, City.__table__.c
_CAMPAIGN_PLACES = select(_campaign_cols.id, _campaign_cols.slug, _campaign_cols.name,
                          _campaign_cols.charity).where(
    _campaign_cols.id.in_(bindparam("ids", expanding=True)))
_CITY_PLACES = select(_city_cols.id, _city_cols.name).where(
    _city_cols.id.in_(bindparam("ids", expanding=True)))


def _places(session: Session, keys: set[tuple[int, int | None]]
            ) -> dict[tuple[int, int | None], tuple[_Place, _Place | None]]:
    """Each (campaign, city)'s names, in one read: a group's gifts go to many cities, and
    loading each campaign and city as an object cost a fifth of the webhook's write."""
    if not keys:
        return {}
    campaign_ids = {campaign_id for campaign_id, _city in keys}
    city_ids = {city_id for _campaign, city_id in keys if city_id is not None}
    campaigns = {row.id: _Place(row.slug, row.name, row.charity) for row in session.execute(
        _CAMPAIGN_PLACES, {"ids": list(campaign_ids)})}
    cities = {row.id: _Place(name=row.name) for row in session.execute(
        _CITY_PLACES, {"ids": list(city_ids)})} if city_ids else {}
    return {(campaign_id, city_id): (campaigns[campaign_id],
                                     cities[city_id] if city_id is not None else None)
            for campaign_id, city_id in keys}


@functools.lru_cache(maxsize=1024)
def _long_date(day: dt.date, lang: str) -> str:
    return format_date(day, "long", locale=lang)   # Babel's is slow; a night has few days


def _receipt(entry: LedgerEntry, campaign: _Place, city: _Place | None, email: str, lang: str,
             receipt_id: int) -> tuple[str, str, str]:
    _ = translator(lang).gettext
    paid = Money(entry.amount_minor, entry.currency)
    where = f"Twestival {city.name}" if city else campaign.name
    number = receipt_number(campaign, receipt_id)
    lines = [_("Thank you for your gift to %(where)s!") % {"where": where}, "",
             _("Receipt number: %(number)s") % {"number": number},
             _("Date: %(date)s") % {"date": _long_date(entry.occurred_at.date(), lang)},
             _("Amount: %(amount)s") % {"amount": format_money(paid, lang)}]
    covered = (entry.meta or {}).get("fee_covered_minor")
    if covered:
        lines.append(_("Of which you added %(fee)s to cover the payment fees, so the charity "
                       "receives the full gift.") % {"fee": format_money(
                           Money(int(covered), entry.currency), lang)})
    lines += [_("Charity: %(charity)s") % {"charity": campaign.charity or campaign.name},
              _("City: %(city)s") % {"city": city.name if city else "—"}]
    if (entry.meta or {}).get("test_mode"):
        lines += ["", _("This was a test payment (sandbox): no money has moved.")]
    lines += ["", _("We use your email address only to send you this receipt; it is never "
                    "shown publicly.")]
    return (email, _("Your receipt %(number)s for your gift to %(where)s") % {
        "number": number, "where": where}, "\n".join(lines) + "\n")


def _refund_notice(session: Session, entry: LedgerEntry) -> int:
    original = session.scalar(select(GiftReceipt).where(   # the (campaign, entry) key
        GiftReceipt.campaign_id == entry.campaign_id, GiftReceipt.entry_id == entry.reverses_id,
        GiftReceipt.kind == "receipt"))
    if original is None or mail.checked(original.email) is None:   # none, or its donor erased
        return 0
    row = _claim(session, entry, "refund", original.email, original.lang)
    if row is None:
        return 0
    campaign = session.get(Campaign, entry.campaign_id)
    _ = translator(original.lang).gettext
    amount = format_money(Money(-entry.amount_minor, entry.currency), original.lang)
    number = original.number(campaign)
    mail.queue_many(session, [(
        original.email, _("Refund of your gift (receipt %(number)s)") % {"number": number},
        _("%(amount)s of your gift (receipt %(number)s) has been refunded to you. "
          "Receipt %(number)s no longer counts for that amount.")
        % {"amount": amount, "number": number} + "\n")])
    return 1


def _claim(session: Session, entry: LedgerEntry, kind: str, email: str,
           lang: str) -> GiftReceipt | None:
    """The receipt row, if this call wrote it (another delivery or process may have)."""
    new_id = session.execute(insert_ignore(
        session, GiftReceipt.__table__, ["campaign_id", "entry_id"], campaign_id=entry.campaign_id,
        entry_id=entry.id, kind=kind, email=email, lang=lang, created_at=utcnow())).scalar()
    return session.get(GiftReceipt, new_id) if new_id is not None else None


def _donor(raw: bytes, fallback: str | None) -> tuple[str | None, str]:
    """The donor's email and language, from the payment provider's own body."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, TypeError):
        return None, "en"
    obj = body.get("data", {}).get("object", {}) if isinstance(body, dict) else {}
    email, lang = None, fallback
    if isinstance(obj, dict) and obj:   # Stripe
        details = obj.get("customer_details") if isinstance(obj.get("customer_details"), dict) else {}
        email = details.get("email") or obj.get("customer_email")
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        lang = metadata.get("lang") or obj.get("locale")
    elif isinstance(body, dict):        # PayPal: the captured order, or the event's resource
        source = (body.get("payment_source") or {}).get("paypal") or {}
        payer = body.get("payer") or (body.get("resource") or {}).get("payer") or source
        email = payer.get("email_address") if isinstance(payer, dict) else None
    lang = lang if lang in LANGUAGES else "en"
    return (email if isinstance(email, str) else None), lang
