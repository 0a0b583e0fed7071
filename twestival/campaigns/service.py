"""Creating and finding campaigns and cities. Operations flush; the caller commits."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from babel import Locale
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import money
from ..errors import Conflict, InvalidInput, NotFound
from .models import Campaign, City, CityStatus

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


def check_slug(slug: str, what: str = "slug") -> str:
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        raise InvalidInput(f"{what} must be lowercase letters, digits and hyphens (e.g. 'london')")
    return slug


def check_country(code: str) -> str:
    code = (code or "").upper()
    if not re.fullmatch(r"[A-Z]{2}", code) or code not in Locale("en").territories:
        raise InvalidInput(f"unknown country code {code!r}; use ISO 3166 alpha-2, e.g. GB")
    return code


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(f"unknown time zone {name!r}; use an IANA name such as Europe/London") from None
    return name


def get_campaign(session: Session, slug: str) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise NotFound(f"no campaign {slug!r}")
    return campaign


def get_city(session: Session, campaign: Campaign, slug: str, *, approved_only: bool = False) -> City:
    city = session.scalar(select(City).where(City.campaign_id == campaign.id, City.slug == slug))
    if city is None or (approved_only and city.status is not CityStatus.approved):
        raise NotFound(f"no city {slug!r} in campaign {campaign.slug!r}")
    return city


def approved_cities(session: Session, campaign: Campaign) -> list[City]:
    return list(session.scalars(
        select(City).where(City.campaign_id == campaign.id, City.status == CityStatus.approved)
        .order_by(City.name)))


def create_campaign(session: Session, slug: str, *, name: str, currency: str,
                    event_date: dt.date | None = None, charity: str | None = None) -> Campaign:
    check_slug(slug, "campaign slug")
    if not name or not name.strip():
        raise InvalidInput("campaign name is required")
    currency = money.check_currency(currency)
    if session.scalar(select(Campaign.id).where(Campaign.slug == slug)) is not None:
        raise Conflict(f"campaign {slug!r} already exists")
    campaign = Campaign(slug=slug, name=name.strip(), currency=currency, event_date=event_date,
                        charity=(charity or "").strip() or None)
    session.add(campaign)
    session.flush()
    return campaign


def add_city(session: Session, campaign: Campaign, slug: str, *, name: str, country: str,
             currency: str, timezone: str, target: str | money.Money,
             status: CityStatus = CityStatus.approved, **details) -> City:
    """Add a city; ``target`` is major-unit text in the city currency (or Money)."""
    from ..ledger.totals import open_city_total  # the ledger owns running totals

    check_slug(slug, "city slug")
    if not name or not name.strip():
        raise InvalidInput("city name is required")
    currency = money.check_currency(currency)
    target_money = target if isinstance(target, money.Money) else money.parse(target, currency)
    if target_money.currency != currency or target_money.minor <= 0:
        raise InvalidInput("target must be a positive amount in the city currency")
    if session.scalar(select(City.id).where(City.campaign_id == campaign.id,
                                            City.slug == slug)) is not None:
        raise Conflict(f"city {slug!r} already exists in {campaign.slug!r}")
    city = City(campaign_id=campaign.id, slug=slug, name=name.strip(),
                country=check_country(country), currency=currency,
                timezone=check_timezone(timezone), target_minor=target_money.minor,
                status=status, **details)
    session.add(city)
    session.flush()
    open_city_total(session, city)
    return city
