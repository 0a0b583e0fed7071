"""Campaign and city facts for the hot paths (webhooks, API donations, ``ledger.record``),
remembered per process and database.

Only what can never change is remembered: ids, slugs and currencies are never edited, and a
city's status only ever moves from pending to approved or rejected, both final (see
``applications._decide``). So a campaign is remembered once found, a city once it is approved or
rejected; a missing campaign or city, or a pending one, is asked for again every time, which
is what keeps a city added or approved in another process visible here at once. What a
transaction found is remembered only once it commits: a city it created itself and then rolled
back must not be remembered.
"""
from __future__ import annotations

import dataclasses
import weakref

from sqlalchemy import Engine, bindparam, select

from sqlalchemy.orm import Session

from ..storage import aftercommit
from .models import Campaign, City, CityStatus

FINAL_STATUSES = frozenset({CityStatus.approved, CityStatus.rejected})


@dataclasses.dataclass(frozen=True, slots=True)
class CampaignRef:
    id: int
    slug: str
    currency: str


@dataclasses.dataclass(frozen=True, slots=True)
class CityRef:
    id: int
    campaign_id: int
    slug: str
    currency: str
    status: CityStatus


_campaign_cols = Campaign.__table__.c
_city_cols = City.__table__.c
# Built once: building a statement costs more than running it.
_CAMPAIGN = select(_campaign_cols.id, _campaign_cols.slug, _campaign_cols.currency)
_CAMPAIGN_BY_SLUG = _CAMPAIGN.where(_campaign_cols.slug == bindparam("slug"))
_CAMPAIGN_BY_ID = _CAMPAIGN.where(_campaign_cols.id == bindparam("id"))
_CITY = select(_city_cols.id, _city_cols.campaign_id, _city_cols.slug, _city_cols.currency,
               _city_cols.status)
_CITY_BY_SLUG = _CITY.where(_city_cols.campaign_id == bindparam("campaign_id"),
                            _city_cols.slug == bindparam("slug"))
_CITY_BY_ID = _CITY.where(_city_cols.id == bindparam("id"))


class _Memo:
    def __init__(self):
        self.campaigns: dict[object, CampaignRef] = {}  # by id and by ("slug", slug)
        self.cities: dict[object, CityRef] = {}         # by id and by (campaign_id, slug)


_memos: weakref.WeakKeyDictionary[Engine, _Memo] = weakref.WeakKeyDictionary()
# Found in the session's current transaction, remembered when it commits.
FOUND_KEY = "twestival.campaigns.found"


def _memo(session: Session) -> _Memo:
    engine = session.get_bind()
    memo = _memos.get(engine)
    if memo is None:
        memo = _memos[engine] = _Memo()
    return memo


def _remember(session: Session, found: list) -> None:
    memo = _memo(session)
    for ref in found:
        if isinstance(ref, CampaignRef):
            memo.campaigns[ref.id] = memo.campaigns[("slug", ref.slug)] = ref
        else:
            memo.cities[ref.id] = memo.cities[(ref.campaign_id, ref.slug)] = ref


aftercommit.subscribe(FOUND_KEY, _remember)


def _campaign(session: Session, key: object, statement, params: dict) -> CampaignRef | None:
    found = _memo(session).campaigns.get(key)
    if found is None:
        row = session.execute(statement, params).first()
        if row is None:
            return None
        found = CampaignRef(*row)
        session.info.setdefault(FOUND_KEY, []).append(found)
    return found


def campaign_by_slug(session: Session, slug: str) -> CampaignRef | None:
    return _campaign(session, ("slug", slug), _CAMPAIGN_BY_SLUG, {"slug": slug})


def campaign_by_id(session: Session, campaign_id: int) -> CampaignRef | None:
    return _campaign(session, campaign_id, _CAMPAIGN_BY_ID, {"id": campaign_id})


def _city(session: Session, key: object, statement, params: dict) -> CityRef | None:
    found = _memo(session).cities.get(key)
    if found is None:
        row = session.execute(statement, params).first()
        if row is None:
            return None
        found = CityRef(*row)
        if found.status in FINAL_STATUSES:
            session.info.setdefault(FOUND_KEY, []).append(found)
    return found


def city_by_slug(session: Session, campaign_id: int, slug: str) -> CityRef | None:
    return _city(session, (campaign_id, slug), _CITY_BY_SLUG,
                 {"campaign_id": campaign_id, "slug": slug})


def approved_city_by_slug(session: Session, campaign_id: int, slug: object) -> CityRef | None:
    """The city money can be counted for: approved (pending and rejected cities are not on
    the board); None for any other."""
    city = city_by_slug(session, campaign_id, slug) if isinstance(slug, str) and slug else None
    return city if city is not None and city.status is CityStatus.approved else None


def city_by_id(session: Session, city_id: int) -> CityRef | None:
    return _city(session, city_id, _CITY_BY_ID, {"id": city_id})
