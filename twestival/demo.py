"""A demo campaign: cities in many currencies and time zones, people, a planning timeline,
and simulated money that comes in through the real streams (``demo_money``)."""
from __future__ import annotations

import datetime as dt
import random
import zoneinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .campaigns.models import Campaign, City
from .campaigns.service import add_city, create_campaign
from .storage.database import utcnow
from .demo_money import random_gift
from .money import Money

SLUG = "twestival-2026"
CITIES = [
    # slug, name, country, currency, timezone, target (major units), typical gift (major)
    ("london", "London", "GB", "GBP", "Europe/London", "25000", 25),
    ("manchester", "Manchester", "GB", "GBP", "Europe/London", "8000", 20),
    ("new-york", "New York", "US", "USD", "America/New_York", "30000", 30),
    ("san-francisco", "San Francisco", "US", "USD", "America/Los_Angeles", "20000", 35),
    ("toronto", "Toronto", "CA", "CAD", "America/Toronto", "12000", 30),
    ("berlin", "Berlin", "DE", "EUR", "Europe/Berlin", "10000", 20),
    ("amsterdam", "Amsterdam", "NL", "EUR", "Europe/Amsterdam", "9000", 20),
    ("tokyo", "Tokyo", "JP", "JPY", "Asia/Tokyo", "2500000", 3000),
    ("osaka", "Osaka", "JP", "JPY", "Asia/Tokyo", "1200000", 2000),
    ("sydney", "Sydney", "AU", "AUD", "Australia/Sydney", "18000", 40),
    ("stockholm", "Stockholm", "SE", "SEK", "Europe/Stockholm", "90000", 200),
    ("cape-town", "Cape Town", "ZA", "ZAR", "Africa/Johannesburg", "120000", 250),
    ("mumbai", "Mumbai", "IN", "INR", "Asia/Kolkata", "600000", 1000),
    ("sao-paulo", "São Paulo", "BR", "BRL", "America/Sao_Paulo", "40000", 80),
    ("zurich", "Zürich", "CH", "CHF", "Europe/Zurich", "11000", 30),
]



def ensure_campaign(session: Session) -> Campaign:
    campaign = session.scalar(select(Campaign).where(Campaign.slug == SLUG))
    if campaign is None:
        campaign = create_campaign(session, SLUG, name="Twestival Global 2026", currency="GBP",
                                   event_date=dt.date(2027, 2, 12), charity="charity: water")
    existing = {c.slug for c in session.scalars(select(City).where(City.campaign_id == campaign.id))}
    for slug, name, country, currency, tz, target, _gift in CITIES:
        if slug not in existing:
            add_city(session, campaign, slug, name=name, country=country, currency=currency,
                     timezone=tz, target=target, venue=f"{name} Community Hall",
                     starts_at_local=dt.datetime(2027, 2, 12, 19, 0),
                     description_md=f"**Twestival {name}**: music, friends and clean water.")
    spread_the_night(session, campaign)
    session.flush()
    return campaign


def spread_the_night(session: Session, campaign: Campaign, now: dt.datetime | None = None) -> None:
    """Start the cities an hour apart around ``now``, whenever the demo runs: with five-hour
    nights the board always has cities that finished, cities live and cities still to come."""
    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    cities = sorted(session.scalars(select(City).where(City.campaign_id == campaign.id)),
                    key=lambda c: c.slug)
    first = now - dt.timedelta(hours=len(cities) // 2 + 1)
    for i, city in enumerate(cities):
        start = (first + dt.timedelta(hours=i)).astimezone(zoneinfo.ZoneInfo(city.timezone))
        city.starts_at_local = start.replace(tzinfo=None)
        city.ends_at_local = None


TYPICAL_GIFT = {slug: gift for slug, _n, _c, _cur, _tz, _t, gift in CITIES}


def donate_once(session: Session, campaign: Campaign, rng: random.Random,
                occurred_at: dt.datetime | None = None) -> bool:
    """One online gift through the Stripe or PayPal stream; False if it was there already."""
    return random_gift(rng, session, campaign, TYPICAL_GIFT, occurred_at)


def seed_history(session: Session, campaign: Campaign, rng: random.Random, count: int,
                 hours: float = 6.0, progress=None) -> None:
    """Donations spread over the past hours, with chart points, so the board has a past."""
    from .ledger.leaderboard import snapshot
    from .live.models import ProgressPoint
    start = utcnow() - dt.timedelta(hours=hours)
    step = dt.timedelta(hours=hours) / max(count, 1)
    new = False
    for i in range(count):
        when = start + step * i
        # The gifts' ids come from ``rng``: a rerun with the same seed finds them all there, and
        # adds neither gifts nor chart points.
        new = donate_once(session, campaign, rng, occurred_at=when) or new
        if new and (i % 10 == 9 or i == count - 1):
            new = False
            session.flush()
            total = snapshot(session, campaign, 0)["total_raised_minor"]
            session.add(ProgressPoint(campaign_id=campaign.id, at=when,
                                      total_reporting_minor=total))
        if progress is not None:
            progress(1)


DEMO_PEOPLE = [
    # email, name, role, city
    ("coordinator@demo.twestival.org", "Amanda (coordinator)", "coordinator", None),
    ("london@demo.twestival.org", "Laura (London organiser)", "organiser", "london"),
    ("tokyo@demo.twestival.org", "Kenji (Tokyo organiser)", "organiser", "tokyo"),
    ("volunteer@demo.twestival.org", "Victor (London volunteer)", "volunteer", "london"),
]


def ensure_people(session: Session, campaign: Campaign) -> list[tuple[str, str, str]]:
    """Demo accounts with a fresh random password each start: (email, role, password)."""
    import secrets

    from .accounts.models import Role
    from .accounts.service import create_user, find_user, grant, set_password
    from .campaigns.service import get_city
    out = []
    for email, name, role, city_slug in DEMO_PEOPLE:
        user = find_user(session, email) or create_user(session, email, name=name)
        city = get_city(session, campaign, city_slug) if city_slug else None
        grant(session, user, Role(role), campaign, city)
        password = secrets.token_urlsafe(9)
        set_password(user, password)
        out.append((email, role + (f" ({city_slug})" if city_slug else ""), password))
    return out


def ensure_hub(session: Session, campaign: Campaign, rng: random.Random) -> None:
    """A planning timeline, a first announcement and some cash still awaiting confirmation."""
    from .announcements.models import Announcement
    from .announcements.service import post
    from .campaigns.service import get_city
    from .planning.timeline import create_default_template, milestones
    from .streams.cash import CashCount, record_count
    if not milestones(session, campaign):
        create_default_template(session, campaign)
    if session.scalar(select(Announcement.id).where(Announcement.campaign_id == campaign.id)) is None:
        post(session, campaign, None, title="Welcome to Twestival 2026!",
             body_md="Thank you for bringing Twestival to your city. Please **book your venue** "
                     "by eight weeks before the night, and tick it off on your checklist.")
    for slug, amount in (("london", 18500), ("berlin", 9000), ("tokyo", 25000)):
        city = get_city(session, campaign, slug)
        record_count(session, city, CashCount(
            key=f"demo-cash-{slug}-0001", amount=Money(amount, city.currency), kind="cash",
            counted_by="Victor", witness="Laura", note="Door donations, first count"),
            by_user_id=None)
