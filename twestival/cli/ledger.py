"""Ledger checks from the command line."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..campaigns.service import get_campaign
from ..storage.database import read_only
from ..extensions import db
from ..ledger import reconcile
from ..ledger.verify import verify
from . import domain_errors
from ..languages import N_
from .language import _, _l


def _check(campaign: str, check, tag: str, failed: str, passed: str) -> None:
    """Run a read-only check of a campaign's ledger: each problem on stderr and exit 1."""
    with read_only():
        camp = get_campaign(db.session, campaign)
        problems = check(db.session, camp)
        db.session.rollback()
    if problems:
        for problem in problems:
            click.echo(f"{tag} {problem}", err=True)
        click.echo(_(failed, campaign=camp.slug, n=len(problems)), err=True)
        sys.exit(1)
    click.echo(_(passed, campaign=camp.slug))


@click.command("reconcile", help=_l("Recompute totals from the ledger; exit 1 on any drift."))
@click.argument("campaign")
@with_appcontext
@domain_errors
def reconcile_command(campaign):
    _check(campaign, reconcile, "DRIFT", N_("%(n)s total(s) disagree with the ledger"),
           N_("%(campaign)s: every total agrees with the ledger"))


@click.command("verify", help=_l(
    "Walk the hash-chained ledger and the totals; exit 1 naming the first problem."))
@click.argument("campaign")
@with_appcontext
@domain_errors
def verify_command(campaign):
    _check(campaign, verify, "BROKEN",
           N_("%(campaign)s: the ledger does not verify (%(n)s problem(s))"),
           N_("%(campaign)s: the chain and every total agree with the ledger"))


COMMANDS = [reconcile_command, verify_command]
