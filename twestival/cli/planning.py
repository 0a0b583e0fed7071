"""Planning from the command line: the reminder job for cron users, a campaign's default timeline."""
from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from ..campaigns.service import get_campaign
from ..extensions import db
from ..planning import timeline
from ..planning.scheduler import reminders_job
from . import domain_errors
from .language import _, _l, ngettext, option


def _instant(_ctx, _param, value):
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            _("use an ISO 8601 time, e.g. 2027-01-15T08:00:00+00:00")) from None
    if moment.tzinfo is None:
        raise click.BadParameter(_("give the UTC offset too, e.g. 2027-01-15T08:00:00Z"))
    return moment


@click.group("reminders", help=_l("Checklist reminders."))
def reminders_group():
    pass


@reminders_group.command("run", help=_l(
    "Send the reminders owed now, once each (safe to run from cron next to the "
    "scheduler)."))
@option("--now", callback=_instant, help=_l("Pretend it is this time (ISO 8601 with offset)."))
@with_appcontext
@domain_errors
def reminders_run(now):
    count = reminders_job(current_app._get_current_object(), now)
    click.echo(ngettext("%(num)s reminder sent", "%(num)s reminders sent", count))


@click.group("timeline", help=_l("A campaign's planning timeline."))
def timeline_group():
    pass


@timeline_group.command("default", help=_l("Give CAMPAIGN the default milestone template."))
@click.argument("campaign")
@with_appcontext
@domain_errors
def timeline_default(campaign):
    steps = timeline.create_default_template(db.session, get_campaign(db.session, campaign))
    db.session.commit()
    click.echo(_("%(n)s milestones added to %(campaign)s", n=len(steps), campaign=campaign))


COMMANDS = [reminders_group, timeline_group]
