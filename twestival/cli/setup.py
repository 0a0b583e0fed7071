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


def _date(_ctx, _param, value):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD") from None


@click.group("campaign")
def campaign_group():
    """Campaigns."""


@campaign_group.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--currency", required=True, help="Reporting currency (ISO 4217).")
@click.option("--date", "event_date", callback=_date, help="Event date, YYYY-MM-DD.")
@click.option("--charity")
@with_appcontext
@domain_errors
def campaign_create(slug, name, currency, event_date, charity):
    camp = campaigns.create_campaign(db.session, slug, name=name, currency=currency,
                                     event_date=event_date, charity=charity)
    db.session.commit()
    click.echo(f"campaign {camp.slug} created ({camp.currency})")


@click.group("city")
def city_group():
    """Cities."""


@city_group.command("add")
@click.argument("campaign")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--country", required=True, help="ISO 3166 alpha-2, e.g. GB.")
@click.option("--currency", required=True)
@click.option("--timezone", required=True, help="IANA name, e.g. Europe/London.")
@click.option("--target", required=True, help="Major units of the city currency, e.g. 2500.00.")
@with_appcontext
@domain_errors
def city_add(campaign, slug, name, country, currency, timezone, target):
    camp = campaigns.get_campaign(db.session, campaign)
    city = campaigns.add_city(db.session, camp, slug, name=name, country=country,
                              currency=currency, timezone=timezone, target=target)
    db.session.commit()
    click.echo(f"city {city.slug} added to {camp.slug}")


@click.group("user")
def user_group():
    """People."""


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
        raise CliError("--campaign is required to give someone a role")
    camp = campaigns.get_campaign(db.session, campaign)
    place = campaigns.get_city(db.session, camp, city) if city else None
    user = accounts.find_user(db.session, email) or accounts.create_user(db.session, email, name=name)
    accounts.grant(db.session, user, role, camp, place)
    db.session.commit()
    click.echo(f"{user.email} is {role.value} of {camp.slug}{'/' + place.slug if place else ''}")
    click.echo(f"set-password link (valid 7 days, once): {password_link(user)}")


@click.group("token")
def token_group():
    """API tokens."""


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
    click.echo("(shown once: store it now)", err=True)


COMMANDS = [campaign_group, city_group, user_group, token_group]
