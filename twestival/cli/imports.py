"""File imports, CSV mappings and replays from the command line."""
from __future__ import annotations

import datetime as dt
import getpass
import os
import sys

import click
from flask.cli import with_appcontext

from ..campaigns.service import get_campaign, get_city
from ..storage.database import read_only
from ..extensions import db
from ..streams.files import mappings, run
from ..streams.inbox.replay import replay
from . import domain_errors
from .language import _, _l, cli_language, option, say, translator


def _estimate_rows(handle) -> int:
    """Lines in the file, counted in chunks (the bar goes through them twice: checking every
    line, then recording)."""
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    handle.seek(0)
    return max(lines, 1)


@click.command("import", help=_l(
    "Import a ticket-sale export or bank statement FILE into CAMPAIGN."))
@click.argument("campaign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--format", "fmt", required=True, type=click.Choice(run.FORMATS))
@option("--city", help=_l("City slug: ticket sales go to it; for bank statements it takes "
                          "credits that match no city's bank reference."))
@option("--mapping", help=_l("Saved column mapping (with --format csv)."))
@option("--currency", help=_l("ISO code for an MT940/OFX statement that names no currency "
                              "(used only then; a file naming another one is refused)."))
@with_appcontext
@domain_errors
def import_command(campaign, file, fmt, city, mapping, currency):
    with open(file, "rb") as handle:
        lines = _estimate_rows(handle)
    # Looked up in a read transaction: a new process's first queries are slow (SQL compiled
    # for the first time), and a write transaction would keep webhooks waiting meanwhile.
    # It lasts until import_file commits it, before archiving.
    with read_only():
        camp = get_campaign(db.session, campaign)
        place = get_city(db.session, camp, city) if city else None
    with open(file, "rb") as handle, click.progressbar(
            length=2 * lines, label=_("checking, then recording"),
            file=sys.stderr) as bar:
        report = run.import_file(db.session, camp, handle, fmt, city=place,
                                       mapping_name=mapping, filename=os.path.basename(file),
                                       progress=bar.update, currency=currency,
                                       via="cli", actor=_actor())
    lang = cli_language()
    click.echo(_("%(file)s (%(format)s) into %(campaign)s:", file=os.path.basename(file),
                 format=fmt, campaign=camp.slug))
    for line in report.lines(translator(lang).gettext, lang):
        click.echo(f"  {line}")


def _actor() -> str:
    """Who ran the command, for the imports history: the command line has no account."""
    try:
        return f"twestival import ({getpass.getuser()})"
    except (KeyError, OSError):   # no user name in a bare container
        return "twestival import"


def _since(_ctx, _param, value):
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(_("use ISO 8601, e.g. 2026-02-12T20:00:00+00:00")) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


@click.command("replay", help=_l("Re-process archived inbound payloads, idempotently."))
@click.argument("campaign")
@option("--stream", help=_l("Only payloads of this stream (stripe, paypal, api, bank, ...)."))
@option("--since", callback=_since, help=_l("Only payloads received at or after this time "
                                            "(ISO 8601; UTC when no offset is given)."))
@with_appcontext
@domain_errors
def replay_command(campaign, stream, since):
    camp = get_campaign(db.session, campaign)
    counts = replay(db.session, camp, stream=stream, since=since)
    click.echo(_("payloads replayed: %(n)s", n=counts.payloads))
    for name, number in sorted(counts.by_stream.items()):
        click.echo(f"  {name}: {number}")
    click.echo(_("processed: %(n)s", n=counts.processed))
    click.echo(_("refused (bad input, unchanged): %(n)s", n=counts.refused))
    click.echo(_("failed: %(n)s", n=counts.failed))
    if counts.incomplete:
        click.echo(_("incomplete files skipped (import them again): %(n)s", n=counts.incomplete))
    if counts.erased:
        click.echo(_("erased with their donor, skipped: %(n)s", n=counts.erased))
    click.echo(_("new ledger entries: %(n)s", n=counts.new_entries))
    for failure in counts.failures:
        click.echo(say(failure), err=True)
    if counts.failed:
        raise SystemExit(1)


@click.group("mapping", help=_l("Saved CSV column mappings (one per source)."))
def mapping_group():
    pass


@mapping_group.command("save", help=_l("Create or replace a mapping."))
@click.argument("campaign")
@click.argument("name")
@click.option("--kind", type=click.Choice(["ticketing", "bank"]), default="ticketing")
@option("--date", "date_column", required=True, help=_l("Column holding the date."))
@option("--amount", "amount_column", required=True, help=_l("Column holding the amount."))
@option("--currency", "currency_column", help=_l("Column holding the ISO currency code."))
@option("--default-currency", help=_l("Currency when there is no currency column."))
@option("--reference", "reference_column", help=_l("Column holding the reference text."))
@option("--donor", "donor_column", help=_l("Column holding the payer's name."))
@option("--external-id", "external_id_column", help=_l("Column holding the source's own id."))
@option("--fee", "fee_column", help=_l("Column holding fees."))
@click.option("--date-format", default="%Y-%m-%d", show_default=True)
@click.option("--decimal", "decimal_separator", type=click.Choice([".", ","]), default=".")
@click.option("--delimiter", default=",", show_default=True)
@with_appcontext
@domain_errors
def mapping_save(campaign, name, **fields):
    camp = get_campaign(db.session, campaign)
    mapping = mappings.save_mapping(db.session, camp, name, **fields)
    db.session.commit()
    click.echo(_("mapping %(name)s saved for %(campaign)s", name=mapping.name, campaign=camp.slug))


@mapping_group.command("list", help=_l("List a campaign's mappings."))
@click.argument("campaign")
@with_appcontext
@domain_errors
def mapping_list(campaign):
    camp = get_campaign(db.session, campaign)
    for m in mappings.list_mappings(db.session, camp):
        click.echo(f"{m.name}\t{m.kind}\tdate={m.date_column} amount={m.amount_column} "
                   f"currency={m.currency_column or m.default_currency}")


COMMANDS = [import_command, replay_command, mapping_group]
