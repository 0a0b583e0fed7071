"""Saved column mappings: how to read one source's CSV, per campaign, by name."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ...campaigns.models import Campaign
from ...errors import InvalidInput, NotFound
from ...languages import N_
from ...money import check_currency
from ...storage.database import Base, UTCDateTime, utcnow


class ImportMapping(Base):
    """How to read one source's CSV: which column holds what. Saved per campaign by name."""
    __tablename__ = "import_mapping"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    # "ticketing": every row is money in for the chosen city; "bank": rows are matched to
    # cities by bank reference, debits and payouts are reported, not counted.
    kind: Mapped[str] = mapped_column(Enum("ticketing", "bank", native_enum=False, length=16,
                                           name="import_mapping_kind"), default="ticketing")
    date_column: Mapped[str] = mapped_column(String(100))
    amount_column: Mapped[str] = mapped_column(String(100))
    currency_column: Mapped[str | None] = mapped_column(String(100))
    default_currency: Mapped[str | None] = mapped_column(String(3))
    reference_column: Mapped[str | None] = mapped_column(String(100))
    donor_column: Mapped[str | None] = mapped_column(String(100))
    external_id_column: Mapped[str | None] = mapped_column(String(100))
    fee_column: Mapped[str | None] = mapped_column(String(100))
    date_format: Mapped[str] = mapped_column(String(40), default="%Y-%m-%d")
    decimal_separator: Mapped[str] = mapped_column(String(1), default=".")
    delimiter: Mapped[str] = mapped_column(String(1), default=",")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAPPING_FIELDS = ("kind", "date_column", "amount_column", "currency_column", "default_currency",
                  "reference_column", "donor_column", "external_id_column", "fee_column",
                  "date_format", "decimal_separator", "delimiter")


def save_mapping(session: Session, campaign: Campaign, name: str, **fields) -> ImportMapping:
    """Create or replace the named mapping of a campaign."""
    name = (name or "").strip().lower()
    if not NAME_RE.fullmatch(name):
        raise InvalidInput(
            N_("mapping name must be lowercase letters, digits, - or _ (e.g. 'tito')"))
    unknown = set(fields) - set(MAPPING_FIELDS)
    if unknown:
        raise InvalidInput(N_("unknown mapping field %(field)r"), field=sorted(unknown)[0])
    values = {k: (v.strip() if isinstance(v, str) else v) or None for k, v in fields.items()}
    if not values.get("date_column") or not values.get("amount_column"):
        raise InvalidInput(N_("a mapping needs at least the date and amount columns"))
    if not values.get("currency_column") and not values.get("default_currency"):
        raise InvalidInput(N_("a mapping needs a currency column or a default currency"))
    if values.get("default_currency"):
        values["default_currency"] = check_currency(values["default_currency"])
    values["kind"] = values.get("kind") or "ticketing"
    if values["kind"] not in ("ticketing", "bank"):
        raise InvalidInput(N_("mapping kind must be 'ticketing' or 'bank'"))
    values["date_format"] = values.get("date_format") or "%Y-%m-%d"
    if "%" not in values["date_format"]:
        raise InvalidInput(N_("date format uses strftime codes, e.g. %(example)s"),
                           example="%d/%m/%Y")
    values["decimal_separator"] = values.get("decimal_separator") or "."
    if values["decimal_separator"] not in (".", ","):
        raise InvalidInput(N_("decimal separator must be '.' or ','"))
    values["delimiter"] = values.get("delimiter") or ","
    if values["delimiter"] not in (",", ";", "\t", "|"):
        raise InvalidInput(N_("delimiter must be one of , ; | or a tab"))
    mapping = get_mapping(session, campaign, name, missing_ok=True)
    if mapping is None:
        mapping = ImportMapping(campaign_id=campaign.id, name=name)
        session.add(mapping)
    for key in MAPPING_FIELDS:
        setattr(mapping, key, values.get(key))
    session.flush()
    return mapping


def get_mapping(session: Session, campaign: Campaign, name: str, *,
                missing_ok: bool = False) -> ImportMapping | None:
    mapping = session.scalar(select(ImportMapping).where(
        ImportMapping.campaign_id == campaign.id, ImportMapping.name == (name or "").lower()))
    if mapping is None and not missing_ok:
        raise NotFound(N_("no CSV mapping %(name)r in campaign %(campaign)r; "
                          "save one first (`twestival mapping save`)"),
                       name=name, campaign=campaign.slug)
    return mapping


def list_mappings(session: Session, campaign: Campaign) -> list[ImportMapping]:
    return list(session.scalars(select(ImportMapping).where(
        ImportMapping.campaign_id == campaign.id).order_by(ImportMapping.name)))
