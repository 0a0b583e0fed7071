"""Exchange rates and the tokens' end of life from the command line: ``fx set``, ``fx list``,
``campaign rates`` and ``token revoke`` (the latter two join the setup groups)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from ..accounts import tokens as api_tokens
from ..campaigns import service as campaigns
from ..campaigns.models import Campaign
from ..extensions import db
from ..ledger import fx
from ..storage.database import utcnow
from . import CliError, domain_errors
from .language import _, _l, option
from .setup import _date, campaign_group, token_group

BY_CLI = "command line"


@click.group("fx", help=_l(
    "Exchange rates (units of a currency per 1 EUR, as the ECB quotes them)."))
def fx_group():
    pass


@fx_group.command("set", help=_l("Enter a rate for a currency the ECB does not publish."))
@click.argument("currency")
@click.argument("rate")
@option("--date", "day", required=True, callback=_date, help=_l("The rate's date, YYYY-MM-DD."))
@option("--source", required=True, help=_l('Where it comes from, e.g. "Central Bank of Kenya".'))
@with_appcontext
@domain_errors
def fx_set(currency, rate, day, source):
    row = fx.enter_rate(db.session, currency, rate, day, source, by=BY_CLI)
    db.session.commit()
    click.echo(_("%(currency)s %(rate)s per EUR from %(date)s (%(source)s)", currency=row.currency,
                 rate=row.per_eur, date=row.date.isoformat(), source=row.note))


def _describe(rate: fx.RateInUse) -> str:
    if rate.source == "euro":
        return "the euro itself"
    if rate.source == "ecb":
        return "ECB reference rate"
    if rate.source == "fixed":
        return "fixed euro conversion rate"
    if rate.source == "entered":
        at = rate.entered_at.strftime("%Y-%m-%d %H:%M UTC") if rate.entered_at else "?"
        return f"entered: {rate.note} (by {rate.entered_by or '?'}, {at})"
    return "NO RATE: money in this currency cannot be counted"


@fx_group.command("list", help=_l(
    "Every currency in use, the rate that converts it and where that came from; then the "
    "history of entered rates."))
@option("--date", "day", callback=_date, help=_l("Rates in use on this day (default today)."))
@with_appcontext
@domain_errors
def fx_list(day):
    day = day or utcnow().date()
    click.echo(f"rates in use on {day.isoformat()} (units per 1 EUR)")
    for currency in fx.currencies_in_use(db.session):
        rate = fx.rate_in_use(db.session, currency, day)
        click.echo(f"{currency}  {rate.per_eur or '-':>14}  "
                   f"{rate.date.isoformat() if rate.date else '-':10}  {_describe(rate)}")
    history = fx.entered_rates(db.session)
    if history:
        click.echo("entered rates, newest first")
        for row in history:
            click.echo(f"  {row.currency}  {row.per_eur:>14}  {row.date.isoformat():10}  "
                       f"{row.note} (by {row.entered_by or '?'})")
    for slug, on in db.session.execute(select(Campaign.slug, Campaign.fx_fixed_on)
                                       .where(Campaign.fx_fixed_on.is_not(None))
                                       .order_by(Campaign.slug)):
        click.echo(f"campaign {slug} converts every gift at the rates of {on.isoformat()}")


@campaign_group.command("rates", help=_l("Which day's rates convert the campaign's gifts."))
@click.argument("campaign")
@option("--fixed", "fixed_on", callback=_date,
        help=_l("Convert every gift at the rates of this day, YYYY-MM-DD."))
@option("--daily", is_flag=True, help=_l("Convert each gift at the rates of its own day."))
@with_appcontext
@domain_errors
def campaign_rates(campaign, fixed_on, daily):
    if bool(fixed_on) == daily:
        raise CliError(_("give exactly one of --fixed YYYY-MM-DD or --daily"))
    camp = campaigns.get_campaign(db.session, campaign)
    fx.fix_rates(db.session, camp, fixed_on)
    db.session.commit()
    click.echo(_("%(campaign)s: every gift at the rates of %(date)s", campaign=camp.slug,
                 date=fixed_on.isoformat()) if fixed_on
               else _("%(campaign)s: each gift at the rates of its own day", campaign=camp.slug))


@token_group.command("revoke", help=_l(
    "Revoke API tokens by the start of the secret (as `token create` printed it)."))
@click.argument("campaign")
@click.argument("prefix", required=False)
@option("--all", "every", is_flag=True, help=_l("Revoke every live token of the campaign."))
@option("--reason", help=_l("Why (kept with the token)."))
@with_appcontext
@domain_errors
def token_revoke(campaign, prefix, every, reason):
    if bool(prefix) == every:
        raise CliError(_("give a token prefix (e.g. tw_AbCdEfG) or --all, not both"))
    camp = campaigns.get_campaign(db.session, campaign)
    if every:
        found = [t for t in api_tokens.tokens(db.session, camp) if t.revoked_at is None]
    else:
        found = api_tokens.tokens_by_prefix(db.session, camp, prefix)
        if not found:
            raise CliError(_("no live token of %(campaign)s starts with %(prefix)r",
                             campaign=camp.slug, prefix=prefix))
        if len(found) > 1:
            raise CliError(_("%(n)s tokens start with %(prefix)r: give more of it",
                             n=len(found), prefix=prefix))
    for token in found:
        api_tokens.revoke_token(db.session, token, by=BY_CLI, reason=reason)
    db.session.commit()
    for token in found:
        click.echo(_("revoked %(prefix)s… %(label)s", prefix=token.prefix,
                     label=token.label or "").rstrip())
    if every:
        click.echo(_("%(n)s token(s) revoked", n=len(found)), err=True)


COMMANDS = [fx_group]
