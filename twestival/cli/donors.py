"""A donor's data rights from the command line: ``donor export`` and ``donor erase``.

Both find the donor by email address (docs/donor-data.md). An address nothing is held about
is not an error: export prints an empty document, erase says "nothing held" (exit 0), so a
request can be answered, and erasure run again, without special cases. A malformed address
exits 2.
"""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from ..extensions import db
from ..giving import donors
from ..storage.database import read_only
from . import domain_errors
from .language import _, _l, option

NAME_HELP = _l("Also the gifts and payloads naming the donor exactly so (the JSON API and cash "
               "carry a name but no address). Repeatable. Check the export first.")


@click.group("donor", help=_l(
    "A donor's data: export everything held, or erase the person (GDPR)."))
def donor_group():
    pass


@donor_group.command("export", help=_l(
    "Print everything held about the donor with EMAIL as JSON on stdout."))
@click.argument("email")
@option("--name", "names", multiple=True, help=NAME_HELP)
@with_appcontext
@domain_errors
def export_command(email, names):
    with read_only():
        held = donors.find(db.session, email, names=names)
        document = donors.export(db.session, held)
        db.session.rollback()
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))


@donor_group.command("erase", help=_l(
    "Erase the donor with EMAIL: their data goes, amounts, ids and totals stay."))
@click.argument("email")
@option("--name", "names", multiple=True, help=NAME_HELP)
@with_appcontext
@domain_errors
def erase_command(email, names):
    held = donors.find(db.session, email, names=names)
    if held.empty:
        before = donors.was_erased(db.session, email)
        db.session.rollback()
        if before:
            click.echo(_("nothing held about that address (erased on %(date)s)",
                         date=f"{before[-1]:%Y-%m-%d}"))
        else:
            click.echo(_("nothing held about that address"))
        return
    counts = donors.erase(db.session, held)
    db.session.commit()
    donors.scrub(db.session)
    click.echo(_("erased: %(entries)s gift(s)' donor data, %(receipts)s receipt address(es), "
                 "%(declarations)s Gift Aid declaration(s), %(checkouts)s checkout(s), "
                 "%(mails)s message(s), %(payloads)s archived payload(s); amounts and totals "
                 "unchanged", entries=counts.entries, receipts=counts.receipts,
                 declarations=counts.declarations, checkouts=counts.checkouts,
                 mails=counts.mails, payloads=counts.payloads))


COMMANDS = [donor_group]
