"""Creating, editing and finding campaigns and cities. Operations flush; the caller commits.
Edits that change standing (targets, currencies, opening and closing) are in the audit log."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from babel import Locale
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from .. import audit, money
from ..storage.database import utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..languages import N_
from .models import Campaign, City, CityStatus

SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


def check_slug(slug: str, what: str = "slug") -> str:
    if not isinstance(slug, str) or not SLUG_RE.fullmatch(slug):
        raise InvalidInput(f"{what} must be lowercase letters, digits and hyphens (e.g. 'london')")
    return slug


def check_country(code: str) -> str:
    code = (code or "").upper()
    if not re.fullmatch(r"[A-Z]{2}", code) or code not in Locale("en").territories:
        raise InvalidInput(N_("unknown country code %(code)r; use ISO 3166 alpha-2, e.g. GB"), code=code)
    return code


def check_timezone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(N_("unknown time zone %(zone)r; use an IANA name such as Europe/London"),
                           zone=name) from None
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
                    event_date: dt.date | None = None, charity: str | None = None,
                    actor_id: int | None = None) -> Campaign:
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
    audit.record(session, actor_id, "campaign.created", subject=campaign.name,
                 campaign_id=campaign.id, details={"currency": currency})
    return campaign


def _changes(row, values: dict) -> dict:
    """field -> [before, after] for the values that differ, as text for the audit log."""
    def shown(value):
        return value.isoformat() if isinstance(value, dt.date) else value
    return {field: [shown(getattr(row, field)), shown(value)] for field, value in values.items()
            if getattr(row, field) != value}


def update_campaign(session: Session, campaign: Campaign, *, name: str,
                    event_date: dt.date | None, charity: str | None,
                    actor_id: int | None) -> Campaign:
    """Name, date and charity; the slug and the reporting currency stay (links and the
    ledger's reporting amounts depend on them)."""
    if not name or not name.strip() or len(name.strip()) > 200:
        raise InvalidInput(N_("campaign name is required (at most 200 characters)"))
    charity = (charity or "").strip() or None
    if charity and len(charity) > 200:
        raise InvalidInput(N_("the charity's name is too long (at most 200 characters)"))
    changes = _changes(campaign, {"name": name.strip(), "event_date": event_date,
                                  "charity": charity})
    if changes:
        campaign.name, campaign.event_date, campaign.charity = name.strip(), event_date, charity
        session.flush()
        audit.record(session, actor_id, "campaign.edited", subject=campaign.name,
                     campaign_id=campaign.id, details=changes)
    return campaign


def set_open(session: Session, campaign: Campaign, is_open: bool, *,
             actor_id: int | None) -> Campaign:
    """A closed campaign takes no new applications; its cities and money stay as they are."""
    if (campaign.closed_at is None) == is_open:
        return campaign
    campaign.closed_at = None if is_open else utcnow()
    session.flush()
    audit.record(session, actor_id, "campaign.opened" if is_open else "campaign.closed",
                 subject=campaign.name, campaign_id=campaign.id)
    return campaign


def has_money(session: Session, city: City) -> bool:
    from ..ledger.models import LedgerEntry  # the ledger owns entries
    return bool(session.scalar(select(exists().where(LedgerEntry.city_id == city.id))))


def update_city(session: Session, city: City, *, name: str, currency: str, timezone: str,
                target: str | money.Money, venue: str | None, ticket_url: str | None,
                actor_id: int | None, reason: str | None = None) -> City:
    """A coordinator's edit. The currency can change only while no money has arrived: every
    entry already counted for the city is in the old one."""
    from ..ledger.totals import note_change  # open boards show the new name and target live
    from .pages import LIMITS, check_url

    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(N_("city name is required (at most 200 characters)"))
    currency = money.check_currency(currency)
    if currency != city.currency and has_money(session, city):
        raise Conflict(N_("money has already arrived for %(city)s in %(currency)s: its currency "
                          "can no longer change"), city=city.name, currency=city.currency)
    target_money = target if isinstance(target, money.Money) else money.parse(target, currency)
    if target_money.currency != currency or target_money.minor <= 0:
        raise InvalidInput(N_("target must be a positive amount in the city currency"))
    venue = (venue or "").strip() or None
    if venue and len(venue) > LIMITS["venue"]:
        raise InvalidInput(N_("venue is too long (at most %(limit)s characters)"), limit=LIMITS["venue"])
    ticket_url = check_url(ticket_url)
    if ticket_url and len(ticket_url) > LIMITS["ticket_url"]:
        raise InvalidInput(N_("the ticket link is too long (at most %(limit)s characters)"),
                           limit=LIMITS["ticket_url"])
    values = {"name": name, "currency": currency, "timezone": check_timezone(timezone),
              "target_minor": target_money.minor, "venue": venue, "ticket_url": ticket_url}
    changes = _changes(city, values)
    if not changes:
        return city
    if "target_minor" in changes:   # the log shows amounts as people write them
        before, after = changes.pop("target_minor")
        changes["target"] = [money.Money(before, city.currency).major_str(),
                             target_money.major_str()]
    for field, value in values.items():
        setattr(city, field, value)
    session.flush()
    if "currency" in changes:
        from .directory import forget_city
        forget_city(session, city.id)
    if city.status is CityStatus.approved:
        note_change(session, city.campaign_id, city.id)
    audit.record(session, actor_id, "city.edited", subject=city.name,
                 campaign_id=city.campaign_id, city_id=city.id, reason=reason, details=changes)
    return city


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
        raise InvalidInput(N_("target must be a positive amount in the city currency"))
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
