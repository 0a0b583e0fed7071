"""Milestone templates, due dates in each city's own calendar, checklists and progress.

A city's checklist needs no rows of its own: it is the campaign's milestones, and a
``ChecklistTick`` row appears only once someone ticks an item. So every approved city has the
checklist from the moment it is approved, and milestones added later reach every city at once.
Operations flush; the caller commits.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..campaigns.models import Campaign, City, CityStatus
from ..storage.database import utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..languages import N_, translator
from ..storage.sql import insert_ignore
from .models import ChecklistTick, Milestone, ReminderSent

# (title, days before the event, details). Negative days: after the event.
# Written in the language of the coordinator who starts from it (they are the campaign's own
# milestones from then on, edited like any other).
DEFAULT_TEMPLATE = [
    (N_("Organising team formed and city page written"), 84,
     N_("Two or more organisers, a short description and the local date and time on your city "
        "page.")),
    (N_("Venue booked"), 56, N_("Capacity, a screen for the live board, and wifi that works.")),
    (N_("Ticket page live"), 42, N_("Add the ticket link to your city page.")),
    (N_("Sponsors and raffle prizes confirmed"), 28, None),
    (N_("Volunteers briefed"), 7,
     N_("Who counts cash, who witnesses, and where the float is kept on the night.")),
    (N_("Cash counted and recorded"), 0,
     N_("Every amount counted by two people and entered the same night.")),
    (N_("Cash banked"), -3,
     N_("Deposit the cash with your city's bank reference so it can be matched.")),
]
MAX_DAYS = 366
MAX_TITLE = 200
MAX_DETAILS = 5_000


class State:
    done = "done"
    overdue = "overdue"
    due = "due"            # due today, in the city's own calendar
    catch_up = "catch_up"  # was already due when the city joined: to catch up, never "overdue"
    upcoming = "upcoming"
    undated = "undated"    # the campaign has no event date yet


@dataclasses.dataclass(frozen=True)
class Item:
    milestone: Milestone
    due: dt.date | None
    state: str
    tick: ChecklistTick | None


@dataclasses.dataclass(frozen=True)
class CityProgress:
    city: City
    items: list[Item]

    @property
    def done(self) -> int:
        return sum(item.state == State.done for item in self.items)

    @property
    def overdue(self) -> int:
        return sum(item.state == State.overdue for item in self.items)

    @property
    def percent(self) -> int:
        return round(100 * self.done / len(self.items)) if self.items else 0


# --- the template -----------------------------------------------------------------------------

def milestones(session: Session, campaign: Campaign) -> list[Milestone]:
    """Earliest first: the most days before the event come first."""
    return list(session.scalars(select(Milestone).where(Milestone.campaign_id == campaign.id)
                                .order_by(Milestone.days_before.desc(), Milestone.id)))


def get_milestone(session: Session, campaign: Campaign, milestone_id: int) -> Milestone:
    milestone = session.get(Milestone, milestone_id)
    if milestone is None or milestone.campaign_id != campaign.id:
        raise NotFound(N_("no such milestone in this campaign"))
    return milestone


def _clean(title: str, days_before, details_md: str | None) -> tuple[str, int, str | None]:
    title = " ".join((title or "").split())
    if not title:
        raise InvalidInput(N_("a milestone needs a title"))
    if len(title) > MAX_TITLE:
        raise InvalidInput(N_("a milestone title may have at most %(limit)s characters"),
                           limit=MAX_TITLE)
    try:
        days = int(days_before)
    except (TypeError, ValueError):
        raise InvalidInput(N_("days before the event must be a whole number")) from None
    if not -MAX_DAYS <= days <= MAX_DAYS:
        raise InvalidInput(N_("days before the event must lie between -%(days)s and %(days)s"),
                           days=MAX_DAYS)
    details_md = (details_md or "").strip() or None
    if details_md and len(details_md) > MAX_DETAILS:
        raise InvalidInput(N_("details may have at most %(limit)s characters"), limit=MAX_DETAILS)
    return title, days, details_md


def add_milestone(session: Session, campaign: Campaign, *, title: str, days_before: int,
                  details_md: str | None = None) -> Milestone:
    title, days, details_md = _clean(title, days_before, details_md)
    milestone = Milestone(campaign_id=campaign.id, title=title, days_before=days,
                          details_md=details_md)
    session.add(milestone)
    session.flush()
    return milestone


def update_milestone(session: Session, campaign: Campaign, milestone_id: int, *, title: str,
                     days_before: int, details_md: str | None = None) -> Milestone:
    milestone = get_milestone(session, campaign, milestone_id)
    milestone.title, milestone.days_before, milestone.details_md = _clean(title, days_before,
                                                                          details_md)
    session.flush()
    return milestone


def delete_milestone(session: Session, campaign: Campaign, milestone_id: int) -> None:
    milestone = get_milestone(session, campaign, milestone_id)
    session.execute(delete(ChecklistTick).where(ChecklistTick.milestone_id == milestone.id))
    session.execute(delete(ReminderSent).where(ReminderSent.milestone_id == milestone.id))
    session.delete(milestone)
    session.flush()


def create_default_template(session: Session, campaign: Campaign,
                            lang: str = "en") -> list[Milestone]:
    """Give a campaign the default milestones, in ``lang``; refused once it has any (they are
    its own now)."""
    if milestones(session, campaign):
        raise Conflict(N_("this campaign already has a timeline; edit it instead"))
    words = translator(lang).gettext
    for title, days, details in DEFAULT_TEMPLATE:
        add_milestone(session, campaign, title=words(title), days_before=days,
                      details_md=words(details) if details else None)
    return milestones(session, campaign)


# --- dates in the city's own calendar ---------------------------------------------------------

def due_date(campaign: Campaign, milestone: Milestone) -> dt.date | None:
    if campaign.event_date is None:
        return None
    return campaign.event_date - dt.timedelta(days=milestone.days_before)


def local_now(city: City, now: dt.datetime) -> dt.datetime:
    return now.astimezone(zoneinfo.ZoneInfo(city.timezone))


def _state(due: dt.date | None, tick: ChecklistTick | None, today: dt.date,
           joined: dt.date | None = None) -> str:
    if tick is not None and tick.done:
        return State.done
    if due is None:
        return State.undated
    if joined is not None and due < joined:
        return State.catch_up
    if today > due:
        return State.overdue
    return State.due if today == due else State.upcoming


# --- checklists -------------------------------------------------------------------------------

def ticks_by_city(session: Session, city_ids: list[int]) -> dict[tuple[int, int], ChecklistTick]:
    if not city_ids:
        return {}
    rows = session.scalars(select(ChecklistTick).where(ChecklistTick.city_id.in_(city_ids)))
    return {(t.city_id, t.milestone_id): t for t in rows}


def joined_on(session: Session, cities: list[City]) -> dict[int, dt.date]:
    """The day (in its own calendar) each city joined: its application's approval, or its
    creation for a city added by a coordinator."""
    from ..campaigns.applications import CityApplication  # applications build on planning's peers

    approved = dict(session.execute(select(CityApplication.city_id, CityApplication.decided_at)
                                    .where(CityApplication.city_id.in_([c.id for c in cities]),
                                           CityApplication.decided_at.is_not(None))).all())
    return {c.id: local_now(c, approved.get(c.id) or c.created_at).date() for c in cities}


def items_for(campaign: Campaign, city: City, steps: list[Milestone], ticks, now,
              joined: dt.date | None = None) -> list[Item]:
    today = local_now(city, now).date()
    items = []
    for milestone in steps:
        tick = ticks.get((city.id, milestone.id))
        due = due_date(campaign, milestone)
        items.append(Item(milestone, due, _state(due, tick, today, joined), tick))
    return items


def checklist(session: Session, campaign: Campaign, city: City,
              now: dt.datetime | None = None) -> CityProgress:
    steps = milestones(session, campaign)
    return CityProgress(city, items_for(campaign, city, steps, ticks_by_city(session, [city.id]),
                                        now or utcnow(), joined_on(session, [city])[city.id]))


def progress(session: Session, campaign: Campaign,
             now: dt.datetime | None = None) -> tuple[list[Milestone], list[CityProgress]]:
    """Every approved city's checklist: the coordinators' grid."""
    now = now or utcnow()
    steps = milestones(session, campaign)
    cities = list(session.scalars(select(City).where(City.campaign_id == campaign.id,
                                                     City.status == CityStatus.approved)
                                  .order_by(City.name)))
    ticks = ticks_by_city(session, [c.id for c in cities])
    joined = joined_on(session, cities)
    return steps, [CityProgress(c, items_for(campaign, c, steps, ticks, now, joined[c.id]))
                   for c in cities]


def who_changed(session: Session, progress: CityProgress) -> dict[int, str]:
    """Names of the people who last changed the items, by user id."""
    ids = {i.tick.changed_by_id for i in progress.items if i.tick and i.tick.changed_by_id}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())


def set_done(session: Session, campaign: Campaign, city: City, milestone_id: int, user: User,
             done: bool) -> ChecklistTick:
    """Tick (or untick) one item of a city's checklist, recording who and when."""
    if city.campaign_id != campaign.id:
        raise NotFound("that city is not part of this campaign")
    if city.status is not CityStatus.approved:
        raise InvalidInput(N_("the checklist opens once the city is approved"))
    milestone = get_milestone(session, campaign, milestone_id)
    values = {"done": bool(done), "changed_by_id": user.id, "changed_at": utcnow()}
    # Insert-or-update without a race: two organisers ticking at once both land on one row.
    session.execute(insert_ignore(session, ChecklistTick.__table__, ["city_id", "milestone_id"],
                                  city_id=city.id, milestone_id=milestone.id, **values))
    session.execute(update(ChecklistTick).where(ChecklistTick.city_id == city.id,
                                                ChecklistTick.milestone_id == milestone.id)
                    .values(**values))
    return session.scalars(select(ChecklistTick).where(
        ChecklistTick.city_id == city.id, ChecklistTick.milestone_id == milestone.id)
        .execution_options(populate_existing=True)).one()
