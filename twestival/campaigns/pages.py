"""A city's public page: the details its organisers keep up to date. Operations flush only."""
from __future__ import annotations

import dataclasses
import datetime as dt
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..languages import N_
from .models import City

LIMITS = {"venue": 300, "description_md": 20_000, "ticket_url": 500, "bank_reference": 100}


@dataclasses.dataclass(frozen=True)
class PageDetails:
    venue: str | None = None
    starts_at_local: dt.datetime | None = None   # wall clock in the city's own time zone
    ends_at_local: dt.datetime | None = None     # the same; none: five hours after the start
    description_md: str | None = None
    ticket_url: str | None = None
    bank_reference: str | None = None


def check_url(url: str | None) -> str | None:
    """Only plain web links: a ``javascript:`` or ``data:`` URL never reaches an href."""
    url = (url or "").strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InvalidInput(N_("the ticket link must be a web address starting with https:// or "
                              "http://"))
    return url


def clean(details: PageDetails) -> dict:
    values = {}
    for field in ("venue", "description_md", "bank_reference"):
        text = (getattr(details, field) or "").strip()
        if len(text) > LIMITS[field]:
            raise InvalidInput(f"{field.replace('_md', '').replace('_', ' ')} is too long "
                               f"(at most {LIMITS[field]} characters)")
        values[field] = text or None
    values["ticket_url"] = check_url(details.ticket_url)
    if values["ticket_url"] and len(values["ticket_url"]) > LIMITS["ticket_url"]:
        raise InvalidInput(N_("the ticket link is too long (at most %(limit)s characters)"),
                           limit=LIMITS["ticket_url"])
    start, end = details.starts_at_local, details.ends_at_local
    if any(t is not None and t.tzinfo is not None for t in (start, end)):
        raise InvalidInput(N_("times are local to the city: give them without a UTC offset"))
    if end is not None and start is None:
        raise InvalidInput(N_("give the start as well as the end"))
    if end is not None and end <= start:
        raise InvalidInput(N_("the end must come after the start"))
    if end is not None and end - start > dt.timedelta(hours=24):
        raise InvalidInput(N_("a night lasts at most 24 hours"))
    values["starts_at_local"], values["ends_at_local"] = start, end
    return values


def update_page(session: Session, city: City, details: PageDetails) -> City:
    for field, value in clean(details).items():
        setattr(city, field, value)
    session.flush()
    return city
