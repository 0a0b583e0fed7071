"""'Bring Twestival to your city': an application is a pending city plus who asked for it.

Coordinators approve (the city joins the public board and the applicant becomes its organiser)
or reject with a reason, and may later withdraw a city. Each decision is in the audit log.
Operations flush; the caller commits and then tells the applicant.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata

from sqlalchemy import ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from .. import audit
from ..accounts.models import Role, User
from ..accounts.service import create_user, find_user, grant, normalise_email
from ..storage.database import Base, UTCDateTime, utcnow
from ..errors import Conflict, InvalidInput
from ..languages import N_
from ..ledger.totals import note_change
from .models import Campaign, City, CityStatus
from .pages import PageDetails, clean
from .service import add_city


class CityApplication(Base):
    __tablename__ = "city_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"), unique=True)
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_email: Mapped[str] = mapped_column(String(254))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str | None] = mapped_column(Text)

    city: Mapped[City] = relationship()


@dataclasses.dataclass(frozen=True)
class Application:
    city_name: str
    country: str
    currency: str
    timezone: str
    target: str
    applicant_name: str
    applicant_email: str
    page: PageDetails = PageDetails()


# Paths under /c/<campaign>/ that a city slug must not shadow.
RESERVED_SLUGS = {"apply", "screen", "donate", "live"}


def slug_for(session: Session, campaign: Campaign, name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:56].strip("-") or "city"
    taken = set(session.scalars(select(City.slug).where(City.campaign_id == campaign.id,
                                                        City.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken or slug in RESERVED_SLUGS:
        slug, n = f"{base}-{n}", n + 1
    return slug


def submit(session: Session, campaign: Campaign, application: Application) -> CityApplication:
    if campaign.closed_at is not None:
        raise Conflict(N_("%(campaign)s is closed and takes no new applications"), campaign=campaign.name)
    name = (application.applicant_name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(N_("your name is required (at most 200 characters)"))
    email = normalise_email(application.applicant_email)
    city_name = (application.city_name or "").strip()
    if not city_name or len(city_name) > 200:
        raise InvalidInput(N_("the city's name is required (at most 200 characters)"))
    city = add_city(session, campaign, slug_for(session, campaign, city_name), name=city_name,
                    country=application.country, currency=application.currency,
                    timezone=application.timezone, target=application.target,
                    status=CityStatus.pending, **clean(application.page))
    row = CityApplication(city_id=city.id, applicant_name=name, applicant_email=email,
                          submitted_at=utcnow())
    session.add(row)
    session.flush()
    return row


def pending(session: Session, campaign: Campaign) -> list[CityApplication]:
    return list(session.scalars(
        select(CityApplication).join(City, City.id == CityApplication.city_id)
        .where(City.campaign_id == campaign.id, City.status == CityStatus.pending)
        .order_by(CityApplication.submitted_at)))


def for_city(session: Session, city: City) -> CityApplication | None:
    return session.scalar(select(CityApplication).where(CityApplication.city_id == city.id))


def _decide(session: Session, city: City, by: User, status: CityStatus,
            reason: str | None) -> CityApplication:
    row = for_city(session, city)
    if city.status is not CityStatus.pending:
        raise Conflict(f"{city.name} was already {city.status.value}")
    if row is None:
        raise Conflict(N_("%(city)s has no application to decide"), city=city.name)
    city.status = status
    row.decided_at, row.decided_by_id, row.reason = utcnow(), by.id, reason
    session.flush()
    audit.record(session, by.id, f"city.{status.value}", subject=city.name,
                 campaign_id=city.campaign_id, city_id=city.id, reason=reason,
                 details={"applicant": row.applicant_email})
    return row


def approve(session: Session, city: City, by: User) -> tuple[CityApplication, User]:
    """The city goes public; the applicant (an account is made if needed) becomes organiser."""
    row = _decide(session, city, by, CityStatus.approved, None)
    note_change(session, city.campaign_id, city.id)   # open boards gain the city live
    applicant = find_user(session, row.applicant_email) or create_user(
        session, row.applicant_email, name=row.applicant_name)
    grant(session, applicant, Role.organiser, city.campaign, city, actor_id=by.id)
    return row, applicant


def approve_many(session: Session, cities: list[City],
                 by: User) -> list[tuple[CityApplication, User]]:
    """Approve several at once, all or none: one that cannot be approved refuses the batch."""
    if not cities:
        raise InvalidInput(N_("tick at least one application to approve"))
    return [approve(session, city, by) for city in cities]


def reject(session: Session, city: City, by: User, reason: str) -> CityApplication:
    reason = _reason(reason, "the application is rejected: the applicant is told")
    return _decide(session, city, by, CityStatus.rejected, reason)


def _reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(f"say why {what}")
    if len(reason) > 2000:
        raise InvalidInput(N_("the reason is too long (at most 2000 characters)"))
    return reason


def withdraw(session: Session, city: City, by: User, reason: str) -> City:
    """The city leaves the board and the hub's lists. Its money stays in the ledger and on the
    statement: nothing is reversed or moved."""
    reason = _reason(reason, "the city is withdrawn")
    if city.status is not CityStatus.approved:
        raise Conflict(f"only an approved city can be withdrawn; {city.name} is {city.status.value}")
    city.status = CityStatus.withdrawn
    session.flush()
    note_change(session, city.campaign_id, city.id)   # open boards drop the city live
    audit.record(session, by.id, "city.withdrawn", subject=city.name,
                 campaign_id=city.campaign_id, city_id=city.id, reason=reason)
    return city


def duplicates(session: Session, campaign: Campaign,
               waiting: list[CityApplication]) -> dict[int, City]:
    """Pending applications for a city the campaign already has (same name, same country,
    ignoring case): application id -> the existing city, shown beside it."""
    if not waiting:
        return {}
    keys = {(a.city.name.strip().lower(), a.city.country) for a in waiting}
    existing = session.scalars(select(City).where(
        City.campaign_id == campaign.id, City.status != CityStatus.rejected,
        func.lower(City.name).in_({name for name, _ in keys})).order_by(City.id))
    found: dict[int, City] = {}
    for city in existing:
        for a in waiting:
            if (a.city.id != city.id and a.id not in found and a.city.country == city.country
                    and a.city.name.strip().lower() == city.name.strip().lower()
                    and (city.status is not CityStatus.pending or city.id < a.city.id)):
                found[a.id] = city
    return found
