"""A city's run sheet: the programme for its night, in its own time. Operations flush only."""
from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import audit
from ..campaigns.models import City
from ..campaigns.night import iso
from ..errors import InvalidInput, NotFound
from ..storage.database import utcnow
from .models import RunSheetItem

TITLE_MAX = 120
NOTE_MAX = 280
ITEMS_MAX = 60   # a night, not a festival


class Full(InvalidInput):
    pass


@dataclasses.dataclass(frozen=True)
class ItemDetails:
    at_local: dt.datetime | None   # wall clock in the city's time zone
    title: str | None
    note: str | None = None


def items(session: Session, city: City) -> list[RunSheetItem]:
    """In the order of the night (two at the same minute: in the order added)."""
    return list(session.scalars(select(RunSheetItem).where(RunSheetItem.city_id == city.id)
                                .order_by(RunSheetItem.at_local, RunSheetItem.id)))


def at_utc(city: City, item: RunSheetItem) -> dt.datetime:
    return item.at_local.replace(tzinfo=zoneinfo.ZoneInfo(city.timezone)).astimezone(dt.timezone.utc)


def to_json(city: City, item: RunSheetItem) -> dict:
    """ITEM as pages and live updates carry it: the instant in UTC, the clients' clocks decide
    what is on now and next."""
    return {"id": item.id, "at": iso(at_utc(city, item)), "title": item.title,
            "note": item.note}


def public(session: Session, city: City) -> list[dict]:
    return [to_json(city, item) for item in items(session, city)]


def _clean(details: ItemDetails) -> dict:
    title = " ".join((details.title or "").split())
    note = " ".join((details.note or "").split()) or None
    if details.at_local is None:
        raise InvalidInput("give the item's time")
    if details.at_local.tzinfo is not None:
        raise InvalidInput("times are local to the city: give them without a UTC offset")
    if not title:
        raise InvalidInput("give the item a title")
    if len(title) > TITLE_MAX or (note and len(note) > NOTE_MAX):
        raise InvalidInput("the title or note is too long")
    return {"at_local": details.at_local.replace(second=0, microsecond=0), "title": title,
            "note": note}


def _describe(values: dict) -> dict:
    return {"at": values["at_local"].strftime("%Y-%m-%d %H:%M"), "title": values["title"],
            "note": values["note"]}


def add(session: Session, city: City, details: ItemDetails, *, by_user_id: int | None) -> RunSheetItem:
    values = _clean(details)
    count = session.scalar(select(func.count()).select_from(RunSheetItem)
                           .where(RunSheetItem.city_id == city.id))
    if count >= ITEMS_MAX:
        raise Full(f"a run sheet holds at most {ITEMS_MAX} items")
    item = RunSheetItem(campaign_id=city.campaign_id, city_id=city.id, updated_at=utcnow(),
                        **values)
    session.add(item)
    session.flush()
    audit.record(session, by_user_id, "runsheet.added", subject=values["title"],
                 campaign_id=city.campaign_id, city_id=city.id, details=_describe(values))
    return item


def get(session: Session, city: City, item_id: int) -> RunSheetItem:
    item = session.get(RunSheetItem, item_id)
    if item is None or item.city_id != city.id:
        raise NotFound("no such run sheet item")
    return item


def edit(session: Session, city: City, item_id: int, details: ItemDetails, *,
         by_user_id: int | None) -> RunSheetItem:
    item = get(session, city, item_id)
    values = _clean(details)
    before = _describe({"at_local": item.at_local, "title": item.title, "note": item.note})
    for field, value in values.items():
        setattr(item, field, value)
    item.updated_at = utcnow()
    session.flush()
    audit.record(session, by_user_id, "runsheet.edited", subject=values["title"],
                 campaign_id=city.campaign_id, city_id=city.id,
                 details={"before": before, "after": _describe(values)})
    return item


def remove(session: Session, city: City, item_id: int, *, by_user_id: int | None) -> None:
    item = get(session, city, item_id)
    described = _describe({"at_local": item.at_local, "title": item.title, "note": item.note})
    session.delete(item)
    session.flush()
    audit.record(session, by_user_id, "runsheet.removed", subject=described["title"],
                 campaign_id=city.campaign_id, city_id=city.id, details=described)
