"""UK Gift Aid: the donor's declaration on a GBP card gift, and the schedule coordinators send
HMRC. No Flask here.

The declaration is kept apart from the ledger (entries are append-only and public-facing; a
home address must be erasable), keyed on the Checkout Session that will carry the gift, and
joined to the gift's entry (``checkout:<session id>``) when the schedule is exported. A gift
refunded or charged back, in whole or in part, leaves the schedule.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping

from sqlalchemy import ForeignKey, String, and_, exists, select
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from ..campaigns.models import Campaign
from ..ledger.models import EntryKind, LedgerEntry
from ..money import Money
from ..storage.database import Base, UTCDateTime, utcnow
from ..storage.sql import insert_ignore

# The version of the declaration's wording (HMRC's model declaration for this donation, the
# past four years and the future; templates/donate/_giftaid.html), stored with each one so the
# wording can change safely.
VERSION = "hmrc-model-2024-1"
TITLES = ("", "Mr", "Mrs", "Miss", "Ms", "Mx", "Dr", "Prof", "Rev")
# HMRC's schedule columns, in its order.
COLUMNS = ("Title", "First name or initial", "Last name", "House name or number", "Postcode",
           "Aggregated donations", "Sponsored event", "Donation date", "Amount")
_POSTCODE = re.compile(r"(GIR ?0AA|[A-Z]{1,2}[0-9][0-9A-Z]? ?[0-9][A-Z]{2})")


class GiftAidDeclaration(Base):
    __tablename__ = "gift_aid_declaration"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    checkout_session: Mapped[str] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(String(8))
    first_name: Mapped[str] = mapped_column(String(35))
    last_name: Mapped[str] = mapped_column(String(35))
    house: Mapped[str] = mapped_column(String(40))
    postcode: Mapped[str] = mapped_column(String(8))
    version: Mapped[str] = mapped_column(String(32))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


@dataclasses.dataclass(frozen=True)
class Declaration:
    title: str
    first_name: str
    last_name: str
    house: str
    postcode: str


def read(form: Mapping[str, str]) -> tuple[Declaration | None, dict[str, str]]:
    """The declaration on the form, or None when not ticked; and problems by field name
    (``giftaid_first_name``, …: codes ``required``, ``postcode``, ``title``)."""
    if form.get("gift_aid") != "on":
        return None, {}
    values = {name: " ".join((form.get(f"giftaid_{name}") or "").split())
              for name in ("title", "first_name", "last_name", "house", "postcode")}
    errors = {}
    for name, limit in (("first_name", 35), ("last_name", 35), ("house", 40)):
        if not values[name] or len(values[name]) > limit:
            errors[f"giftaid_{name}"] = "required"
    if values["title"] not in TITLES:
        errors["giftaid_title"] = "title"
    postcode = values["postcode"].upper()
    if not _POSTCODE.fullmatch(postcode):
        errors["giftaid_postcode"] = "postcode"
    elif " " not in postcode:
        postcode = f"{postcode[:-3]} {postcode[-3:]}"
    values["postcode"] = postcode
    return (None if errors else Declaration(**values)), errors


def declare(session: Session, campaign_id: int, checkout_session: str,
            declaration: Declaration) -> None:
    # The same form sent twice gets the same Checkout Session back: one declaration.
    session.execute(insert_ignore(
        session, GiftAidDeclaration.__table__, ["checkout_session"], campaign_id=campaign_id,
        checkout_session=checkout_session, version=VERSION, declared_at=utcnow(),
        **dataclasses.asdict(declaration)))


def schedule(session: Session, campaign: Campaign, *, include_test_mode: bool) -> list[tuple]:
    """HMRC's schedule rows (COLUMNS) of declared GBP gifts that still stand."""
    reversal = aliased(LedgerEntry)
    undone = exists().where(reversal.reverses_id == LedgerEntry.id,
                            reversal.kind.in_([EntryKind.refund, EntryKind.chargeback]))
    query = (select(GiftAidDeclaration, LedgerEntry)
             .join(LedgerEntry, and_(
                 LedgerEntry.campaign_id == GiftAidDeclaration.campaign_id,
                 LedgerEntry.stream == "stripe",
                 LedgerEntry.external_id == "checkout:" + GiftAidDeclaration.checkout_session))
             .where(GiftAidDeclaration.campaign_id == campaign.id,
                    LedgerEntry.kind == EntryKind.donation, LedgerEntry.currency == "GBP",
                    ~undone)
             .order_by(LedgerEntry.occurred_at, LedgerEntry.id))
    rows = []
    for declared, entry in session.execute(query):
        if (entry.meta or {}).get("test_mode") and not include_test_mode:
            continue
        rows.append((declared.title, declared.first_name, declared.last_name, declared.house,
                     declared.postcode, "", "", entry.occurred_at.strftime("%d/%m/%y"),
                     Money(entry.amount_minor, entry.currency).major_str()))
    return rows
