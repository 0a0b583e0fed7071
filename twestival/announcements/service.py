"""Posting announcements, who sees them, and read receipts. Operations flush; the caller commits."""
from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from ..accounts.models import Membership, Role, User
from ..campaigns.models import Campaign, City, CityStatus
from ..errors import InvalidInput, NotFound
from ..languages import N_
from ..storage.sql import insert_ignore
from ..languages import translator
from ..mail import queue_mail
from .models import Announcement, AnnouncementCity, AnnouncementRead

MAX_TITLE = 200
MAX_BODY = 20_000


def _reaches(city: City):
    """SQL condition: the announcement is for every city, or names this one."""
    targeted = exists().where(AnnouncementCity.announcement_id == Announcement.id)
    names_city = exists().where(AnnouncementCity.announcement_id == Announcement.id,
                                AnnouncementCity.city_id == city.id)
    return (~targeted) | names_city


def post(session: Session, campaign: Campaign, author: User | None, *, title: str, body_md: str,
         cities: Sequence[City] = (), link_for: Callable[[City], str] = lambda city: "") -> Announcement:
    """Post to the organisers of ``cities`` (all approved cities when empty) and mail each
    organiser once, with ``link_for(city)`` pointing at their city's announcements."""
    title = " ".join((title or "").split())
    body_md = (body_md or "").strip()
    if not title:
        raise InvalidInput(N_("an announcement needs a title"))
    if len(title) > MAX_TITLE:
        raise InvalidInput(N_("the title may have at most %(limit)s characters"), limit=MAX_TITLE)
    if not body_md:
        raise InvalidInput(N_("an announcement needs some text"))
    if len(body_md) > MAX_BODY:
        raise InvalidInput(N_("the text may have at most %(limit)s characters"), limit=MAX_BODY)
    if any(city.campaign_id != campaign.id for city in cities):
        raise InvalidInput(N_("that city is not part of this campaign"))
    announcement = Announcement(campaign_id=campaign.id, title=title, body_md=body_md,
                                author_id=author.id if author else None,
                                cities=[AnnouncementCity(city_id=c.id) for c in cities])
    session.add(announcement)
    session.flush()

    audience = list(cities) or list(session.scalars(
        select(City).where(City.campaign_id == campaign.id, City.status == CityStatus.approved)
        .order_by(City.name)))
    # One query for every city's organisers and one flush for all the mail: an announcement
    # to 150 cities stays a short request (bench/announce.py).
    by_city: dict[int, list[User]] = {}
    for city_id, user in session.execute(
            select(Membership.city_id, User).join(Membership, Membership.user_id == User.id)
            .where(Membership.city_id.in_([c.id for c in audience]),
                   Membership.role == Role.organiser, User.active)
            .order_by(User.id)):
        by_city.setdefault(city_id, []).append(user)
    mailed: set[int] = set()
    mails = []
    for city in audience:
        for user in by_city.get(city.id, ()):
            if user.id in mailed:
                continue
            mailed.add(user.id)
            link = link_for(city)
            footer = translator(user.locale).gettext("%(campaign)s: announcement for %(city)s") % {
                "campaign": campaign.name, "city": city.name}
            mails.append((user.email, f"[{campaign.name}] {title}",
                          f"{body_md}\n\n-- \n{footer}" + (f"\n{link}" if link else "") + "\n"))
    queue_mail(session, mails)
    return announcement


def organisers(session: Session, city: City) -> list[User]:
    return list(session.scalars(
        select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.city_id == city.id, Membership.role == Role.organiser, User.active)
        .order_by(User.id)))


def for_campaign(session: Session, campaign: Campaign) -> list[Announcement]:
    return list(session.scalars(select(Announcement).where(Announcement.campaign_id == campaign.id)
                                .order_by(Announcement.created_at.desc(), Announcement.id.desc())))


def for_city(session: Session, user: User, campaign: Campaign,
             city: City) -> list[tuple[Announcement, bool]]:
    """The city's announcements, newest first, each with whether ``user`` has read it."""
    read = exists().where(AnnouncementRead.announcement_id == Announcement.id,
                          AnnouncementRead.user_id == user.id)
    rows = session.execute(
        select(Announcement, read).where(Announcement.campaign_id == campaign.id, _reaches(city))
        .order_by(Announcement.created_at.desc(), Announcement.id.desc()))
    return [(announcement, bool(seen)) for announcement, seen in rows]


def unread_count(session: Session, user: User, campaign: Campaign, city: City) -> int:
    read = exists().where(AnnouncementRead.announcement_id == Announcement.id,
                          AnnouncementRead.user_id == user.id)
    return session.scalar(select(func.count(Announcement.id)).where(
        Announcement.campaign_id == campaign.id, _reaches(city), ~read)) or 0


def mark_read(session: Session, user: User, campaign: Campaign, city: City,
              announcement_id: int | None = None) -> int:
    """Record that ``user`` read one announcement of the city (or all of them when None)."""
    query = select(Announcement.id).where(Announcement.campaign_id == campaign.id, _reaches(city))
    if announcement_id is not None:
        query = query.where(Announcement.id == announcement_id)
    ids = list(session.scalars(query))
    if announcement_id is not None and not ids:
        raise NotFound("no such announcement for this city")
    marked = 0
    for found in ids:
        marked += session.execute(insert_ignore(
            session, AnnouncementRead.__table__, ["announcement_id", "user_id"],
            announcement_id=found, user_id=user.id)).first() is not None
    return marked
