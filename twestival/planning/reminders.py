"""Reminder mails for milestones that are due or overdue, sent in each city's local morning.

Milestones that were already due when a city joined are not reminded at all: the checklist
shows them as "catch up" (``State.catch_up``), and a city approved today is not told that it
is two weeks late. A reminder covers a *period* of the city's calendar: the first ("due") from the due date for a
week, then one "overdue" reminder a week until the item is ticked or ``GIVE_UP_AFTER`` has
passed. Whoever inserts the (city, milestone, kind, period) row of ``reminder_sent`` sends the
mail in the same transaction; an insert that meets an existing row does nothing and sends
nothing. So running the job again, after a restart, or in two processes at once, never repeats
a reminder, and a run that missed a morning (server down) catches up later in the same period.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..announcements.service import organisers
from ..campaigns.models import Campaign, City, CityStatus
from ..storage.sql import insert_ignore
from ..languages import translator
from ..mail import send_mail
from .models import ReminderSent
from .timeline import State, items_for, joined_on, local_now, milestones, ticks_by_city

MORNING = dt.time(8, 0)                 # local time from which a city's reminders go out
OVERDUE_EVERY = 7                       # days between reminders for an item still not done
GIVE_UP_AFTER = 28                      # days overdue after which we stop reminding


def period(due: dt.date, today: dt.date) -> tuple[str, dt.date] | None:
    """Which reminder (kind, first day of its period) is owed on ``today``, if any."""
    late = (today - due).days
    if late < 0 or late > GIVE_UP_AFTER:
        return None
    if late < OVERDUE_EVERY:
        return "due", due
    return "overdue", due + dt.timedelta(days=OVERDUE_EVERY * (late // OVERDUE_EVERY))


def run_reminders(session: Session, now: dt.datetime, *,
                  link_for: Callable[[City], str] | None = None) -> int:
    """Queue the reminders owed at ``now`` (aware); returns how many (city, milestone) reminders
    this call won. Flushes; the caller commits, and the mail goes out after that commit."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    won = 0
    campaigns = session.scalars(select(Campaign).where(Campaign.event_date.is_not(None))
                                .order_by(Campaign.id))
    for campaign in campaigns:
        steps = milestones(session, campaign)
        if not steps:
            continue
        cities = list(session.scalars(select(City).where(
            City.campaign_id == campaign.id, City.status == CityStatus.approved).order_by(City.id)))
        ticks = ticks_by_city(session, [c.id for c in cities])
        joined = joined_on(session, cities)
        for city in cities:
            local = local_now(city, now)
            if local.time() < MORNING:
                continue
            people = organisers(session, city)
            if not people:
                continue  # nobody to tell yet: an organiser added later still gets it
            owed = []
            for item in items_for(campaign, city, steps, ticks, now, joined[city.id]):
                if item.state not in (State.due, State.overdue):
                    continue
                which = period(item.due, local.date())
                if which is None:
                    continue
                kind, start = which
                row = session.execute(insert_ignore(
                    session, ReminderSent.__table__, ["city_id", "milestone_id", "kind", "period_start"],
                    city_id=city.id, milestone_id=item.milestone.id, kind=kind, period_start=start,
                    recipients=len(people), sent_at=now)).first()
                if row is not None:
                    owed.append(item)
            if owed:
                won += len(owed)
                link = link_for(city) if link_for else ""
                for person in people:   # each in their own language
                    subject, body = _message(campaign, city, owed, local.date(), link,
                                             translator(person.locale))
                    send_mail(session, person.email, subject, body)
    return won


def _when(due: dt.date, today: dt.date, words) -> str:
    late = (today - due).days
    if late == 0:
        return words.gettext("due today")
    return words.ngettext("overdue by %(num)s day", "overdue by %(num)s days", late) % {"num": late}


def _message(campaign: Campaign, city: City, items, today: dt.date, link: str,
             words) -> tuple[str, str]:
    _ = words.gettext
    lines = [f"- {item.milestone.title}: {_when(item.due, today, words)} ("
             + _("due %(date)s") % {"date": item.due.isoformat()} + ")" for item in items]
    tag = f"[{campaign.name}] {city.name}: "
    subject = tag + (_("%(milestone)s is %(when)s") % {
        "milestone": items[0].milestone.title, "when": _when(items[0].due, today, words)}
        if len(items) == 1 else _("%(count)s checklist items need you") % {"count": len(items)})
    body = (_("Hello from %(campaign)s,\n\nThese items of %(city)s's checklist are not ticked "
              "off yet:") % {"campaign": campaign.name, "city": city.name}
            + "\n\n" + "\n".join(lines) + "\n\n"
            + (_("Tick them off when they are done: %(link)s") % {"link": link} + "\n"
               if link else "")
            + "\n" + _("You get this because you organise this city.") + "\n")
    return subject, body
