"""Setting a campaign up from the command line: campaigns, cities, people, API tokens."""
from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from ..accounts import service as accounts
from ..accounts.models import Role
from ..campaigns import service as campaigns
from ..extensions import db
from . import CliError, domain_errors
from .language import _, _l, option


def _date(_ctx, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(_("use YYYY-MM-DD")) from None


@click.group("campaign", help=_l("Campaigns."))
def campaign_group():
    pass


@campaign_group.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@option("--currency", required=True, help=_l("Reporting currency (ISO 4217)."))
@option("--date", "event_date", callback=_date, help=_l("Event date, YYYY-MM-DD."))
@click.option("--charity")
@with_appcontext
@domain_errors
def campaign_create(slug, name, currency, event_date, charity):
    camp = campaigns.create_campaign(db.session, slug, name=name, currency=currency,
                                     event_date=event_date, charity=charity)
    db.session.commit()
    click.echo(_("campaign %(campaign)s created (%(currency)s)", campaign=camp.slug,
                 currency=camp.currency))


@click.group("city", help=_l("Cities."))
def city_group():
    pass


@city_group.command("add")
@click.argument("campaign")
@click.argument("slug")
@click.option("--name", required=True)
@option("--country", required=True, help=_l("ISO 3166 alpha-2, e.g. GB."))
@click.option("--currency", required=True)
@option("--timezone", required=True, help=_l("IANA name, e.g. Europe/London."))
@option("--target", required=True, help=_l("Major units of the city currency, e.g. 2500.00."))
@with_appcontext
@domain_errors
def city_add(campaign, slug, name, country, currency, timezone, target):
    camp = campaigns.get_campaign(db.session, campaign)
    city = campaigns.add_city(db.session, camp, slug, name=name, country=country,
                              currency=currency, timezone=timezone, target=target)
    db.session.commit()
    click.echo(_("city %(city)s added to %(campaign)s", city=city.slug, campaign=camp.slug))


@click.group("user", help=_l("People."))
def user_group():
    pass


@user_group.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--campaign")
@click.option("--city")
@with_appcontext
@domain_errors
def user_create(email, name, role, campaign, city):
    from ..web.auth import password_link
    role = Role(role)
    if campaign is None:
        raise CliError(_("--campaign is required to give someone a role"))
    camp = campaigns.get_campaign(db.session, campaign)
    place = campaigns.get_city(db.session, camp, city) if city else None
    user = accounts.find_user(db.session, email) or accounts.create_user(db.session, email, name=name)
    accounts.grant(db.session, user, role, camp, place)
    db.session.commit()
    click.echo(_("%(email)s is %(role)s of %(place)s", email=user.email, role=_(role.value),
                 place=camp.slug + ("/" + place.slug if place else "")))
    click.echo(_("set-password link (valid 7 days, once): %(link)s", link=password_link(user)))


@click.group("token", help=_l("API tokens."))
def token_group():
    pass


@token_group.command("create")
@click.argument("campaign")
@click.option("--city")
@click.option("--label")
@with_appcontext
@domain_errors
def token_create(campaign, city, label):
    camp = campaigns.get_campaign(db.session, campaign)
    place = campaigns.get_city(db.session, camp, city) if city else None
    _row, secret = accounts.create_token(db.session, camp, place, label)
    db.session.commit()
    click.echo(secret)
    click.echo(_("(shown once: store it now)"), err=True)


COMMANDS = [campaign_group, city_group, user_group, token_group]
