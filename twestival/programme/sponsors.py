"""Sponsors: a campaign's (shown everywhere) and each city's (on its page and screen).
Operations flush only."""
from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import audit
from ..campaigns.models import Campaign, City
from ..errors import InvalidInput, NotFound
from .logos import Logo
from .models import Sponsor

NAME_MAX = 120
LINK_MAX = 500
PER_OWNER_MAX = 24   # a strip of logos, not a directory


class Full(InvalidInput):
    pass


@dataclasses.dataclass(frozen=True)
class SponsorDetails:
    name: str | None
    link: str | None = None


def check_link(link: str | None) -> str | None:
    """Only plain web links reach an href: no ``javascript:``, ``data:`` or relative paths."""
    link = (link or "").strip()
    if not link:
        return None
    parts = urlsplit(link)
    if (parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(ch.isspace() or ord(ch) < 32 for ch in link)):
        raise InvalidInput("the link must be a web address starting with https:// or http://")
    if len(link) > LINK_MAX:
        raise InvalidInput(f"the link is too long (at most {LINK_MAX} characters)")
    return link


def _clean(details: SponsorDetails) -> dict:
    name = " ".join((details.name or "").split())
    if not name:
        raise InvalidInput("give the sponsor's name")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"the name is too long (at most {NAME_MAX} characters)")
    return {"name": name, "link": check_link(details.link)}


def _owner(query, campaign: Campaign, city: City | None):
    query = query.where(Sponsor.campaign_id == campaign.id)
    return query.where(Sponsor.city_id == city.id) if city else query.where(Sponsor.city_id.is_(None))


def owned(session: Session, campaign: Campaign, city: City | None) -> list[Sponsor]:
    """The campaign's own sponsors (no city) or one city's, in the order they were added."""
    return list(session.scalars(_owner(select(Sponsor), campaign, city).order_by(Sponsor.id)))


def shown(session: Session, campaign: Campaign, city: City | None = None) -> list[Sponsor]:
    """What a page shows: the campaign's sponsors first, then the city's."""
    query = select(Sponsor).where(Sponsor.campaign_id == campaign.id)
    query = query.where(or_(Sponsor.city_id.is_(None), Sponsor.city_id == city.id)) if city \
        else query.where(Sponsor.city_id.is_(None))
    return list(session.scalars(query.order_by(Sponsor.city_id.is_not(None), Sponsor.id)))


def get(session: Session, campaign: Campaign, city: City | None, sponsor_id: int) -> Sponsor:
    """One sponsor of exactly this owner: a city's desk never reaches the campaign's or
    another city's."""
    found = session.scalar(_owner(select(Sponsor), campaign, city).where(Sponsor.id == sponsor_id))
    if found is None:
        raise NotFound("no such sponsor")
    return found


def _subject(campaign: Campaign, city: City | None):
    return {"campaign_id": campaign.id, "city_id": city.id if city else None}


def add(session: Session, campaign: Campaign, city: City | None, details: SponsorDetails,
        logo: Logo, *, by_user_id: int | None) -> Sponsor:
    values = _clean(details)
    if len(owned(session, campaign, city)) >= PER_OWNER_MAX:
        raise Full(f"at most {PER_OWNER_MAX} sponsors each")
    sponsor = Sponsor(campaign_id=campaign.id, city_id=city.id if city else None, **values,
                      image=logo.data, image_type=logo.content_type, image_digest=logo.digest,
                      width=logo.width, height=logo.height)
    session.add(sponsor)
    session.flush()
    audit.record(session, by_user_id, "sponsor.added", subject=values["name"],
                 **_subject(campaign, city), details={**values, "logo": logo.digest})
    return sponsor


def edit(session: Session, campaign: Campaign, city: City | None, sponsor_id: int,
         details: SponsorDetails, logo: Logo | None, *, by_user_id: int | None) -> Sponsor:
    sponsor = get(session, campaign, city, sponsor_id)
    values = _clean(details)
    before = {"name": sponsor.name, "link": sponsor.link, "logo": sponsor.image_digest}
    sponsor.name, sponsor.link = values["name"], values["link"]
    if logo is not None:
        sponsor.image, sponsor.image_type, sponsor.image_digest = (
            logo.data, logo.content_type, logo.digest)
        sponsor.width, sponsor.height = logo.width, logo.height
    session.flush()
    audit.record(session, by_user_id, "sponsor.edited", subject=values["name"],
                 **_subject(campaign, city),
                 details={"before": before, "after": {**values, "logo": sponsor.image_digest}})
    return sponsor


def remove(session: Session, campaign: Campaign, city: City | None, sponsor_id: int, *,
           by_user_id: int | None) -> None:
    sponsor = get(session, campaign, city, sponsor_id)
    details = {"name": sponsor.name, "link": sponsor.link, "logo": sponsor.image_digest}
    session.delete(sponsor)
    session.flush()
    audit.record(session, by_user_id, "sponsor.removed", subject=details["name"],
                 **_subject(campaign, city), details=details)


def logo(session: Session, campaign: Campaign, sponsor_id: int, digest: str) -> Sponsor:
    """The stored logo named by its URL; an old digest (the logo was replaced) is gone."""
    found = session.scalar(select(Sponsor).where(Sponsor.campaign_id == campaign.id,
                                                 Sponsor.id == sponsor_id,
                                                 Sponsor.image_digest == digest))
    if found is None:
        raise NotFound("no such logo")
    return found
