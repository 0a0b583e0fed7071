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

import datetime as dt
import json
import logging
from collections.abc import Sequence

from babel.dates import format_date
from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..campaigns.models import Campaign, City
from ..errors import InvalidInput
from ..languages import LANGUAGES, translator
from ..ledger.models import EntryKind, LedgerEntry
from ..mail import send_mail
from ..money import Money, format_money
from ..storage.database import Base, UTCDateTime, utcnow
from ..storage.sql import insert_ignore

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
        """Unique per campaign (row ids are unique everywhere), and says whose it is."""
        return f"{campaign.slug.upper()}-{self.id:06d}"


def donors(rows: Sequence[tuple[LedgerEntry, bytes]],
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
    sent = 0
    for entry in entries:
        if entry.id in thanked:
            sent += _receipt(session, entry, *thanked[entry.id])
        elif entry.kind == EntryKind.refund and entry.reverses_id is not None:
            sent += _refund_notice(session, entry)
    return sent


def _receipt(session: Session, entry: LedgerEntry, email: str, lang: str) -> int:
    row = _claim(session, entry, "receipt", email, lang)
    if row is None:
        return 0
    campaign, city = session.get(Campaign, entry.campaign_id), session.get(City, entry.city_id) \
        if entry.city_id else None
    _ = translator(lang).gettext
    paid = Money(entry.amount_minor, entry.currency)
    where = f"Twestival {city.name}" if city else campaign.name
    lines = [_("Thank you for your gift to %(where)s!") % {"where": where}, "",
             _("Receipt number: %(number)s") % {"number": row.number(campaign)},
             _("Date: %(date)s") % {"date": format_date(entry.occurred_at, "long", locale=lang)},
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
    return _send(session, email, _("Your receipt %(number)s for your gift to %(where)s") % {
        "number": row.number(campaign), "where": where}, "\n".join(lines) + "\n")


def _refund_notice(session: Session, entry: LedgerEntry) -> int:
    original = session.scalar(select(GiftReceipt).where(
        GiftReceipt.entry_id == entry.reverses_id, GiftReceipt.kind == "receipt"))
    if original is None or not original.email:   # no receipt, or its donor was erased
        return 0
    row = _claim(session, entry, "refund", original.email, original.lang)
    if row is None:
        return 0
    campaign = session.get(Campaign, entry.campaign_id)
    _ = translator(original.lang).gettext
    amount = format_money(Money(-entry.amount_minor, entry.currency), original.lang)
    number = original.number(campaign)
    return _send(session, original.email,
                 _("Refund of your gift (receipt %(number)s)") % {"number": number},
                 _("%(amount)s of your gift (receipt %(number)s) has been refunded to you. "
                   "Receipt %(number)s no longer counts for that amount.")
                 % {"amount": amount, "number": number} + "\n")


def _claim(session: Session, entry: LedgerEntry, kind: str, email: str,
           lang: str) -> GiftReceipt | None:
    """The receipt row, if this call wrote it (another delivery or process may have)."""
    new_id = session.execute(insert_ignore(
        session, GiftReceipt.__table__, ["campaign_id", "entry_id"], campaign_id=entry.campaign_id,
        entry_id=entry.id, kind=kind, email=email, lang=lang, created_at=utcnow())).scalar()
    return session.get(GiftReceipt, new_id) if new_id is not None else None


def _send(session: Session, to: str, subject: str, body: str) -> int:
    try:
        send_mail(session, to, subject, body)
    except InvalidInput:  # an address the provider accepted but we cannot mail: no receipt
        log.warning("receipt not sent: the donor's address is not one we can mail")
        return 0
    return 1


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
