"""The coordinators' cities table: searched, filtered and sorted on the server, so it works
from plain links and forms without JavaScript."""
from __future__ import annotations

import dataclasses

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .models import Campaign, City, CityStatus

SORTS = ("name", "country", "state", "progress", "target")


@dataclasses.dataclass(frozen=True)
class Query:
    q: str = ""
    state: str = ""          # a CityStatus value, or "" for all
    country: str = ""        # ISO 3166 alpha-2, or "" for all
    behind: bool = False     # only cities whose counted money is below their target
    sort: str = "name"
    desc: bool = False

    @classmethod
    def from_args(cls, args) -> Query:
        """Unknown values fall back to the default: a hand-edited link never breaks the page."""
        state = args.get("state", "")
        sort = args.get("sort", "name")
        return cls(q=args.get("q", "").strip()[:100],
                   state=state if state in {s.value for s in CityStatus} else "",
                   country=args.get("country", "").strip().upper()[:2],
                   behind=args.get("behind") == "1",
                   sort=sort if sort in SORTS else "name", desc=args.get("desc") == "1")


@dataclasses.dataclass(frozen=True)
class Row:
    city: City
    raised_minor: int
    provisional_minor: int

    @property
    def counted_minor(self) -> int:
        return self.raised_minor + self.provisional_minor

    @property
    def progress(self) -> float:
        return self.counted_minor / self.city.target_minor if self.city.target_minor else 0.0


def cities(session: Session, campaign: Campaign, query: Query) -> list[Row]:
    from ..ledger.models import CityTotal  # the ledger owns running totals

    statement = (select(City, CityTotal.raised_minor, CityTotal.provisional_minor)
                 .outerjoin(CityTotal, CityTotal.city_id == City.id)
                 .where(City.campaign_id == campaign.id))
    if query.q:
        pattern = f"%{query.q}%"
        statement = statement.where(or_(City.name.ilike(pattern), City.slug.ilike(pattern),
                                        City.venue.ilike(pattern)))
    if query.state:
        statement = statement.where(City.status == CityStatus(query.state))
    if query.country:
        statement = statement.where(City.country == query.country)
    rows = [Row(city, raised or 0, provisional or 0)
            for city, raised, provisional in session.execute(statement)]
    if query.behind:
        rows = [row for row in rows if row.counted_minor < row.city.target_minor]
    # Targets are in each city's own currency: they sort by amount within a currency.
    key = {"name": lambda r: r.city.name.casefold(),
           "country": lambda r: (r.city.country, r.city.name.casefold()),
           "state": lambda r: (r.city.status.value, r.city.name.casefold()),
           "progress": lambda r: (r.progress, r.city.name.casefold()),
           "target": lambda r: (r.city.currency, r.city.target_minor)}[query.sort]
    return sorted(rows, key=key, reverse=query.desc)


def countries(session: Session, campaign: Campaign) -> list[str]:
    return list(session.scalars(select(City.country).where(City.campaign_id == campaign.id)
                                .distinct().order_by(City.country)))
