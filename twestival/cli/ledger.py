"""Ledger checks from the command line."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..campaigns.service import get_campaign
from ..storage.database import read_only
from ..extensions import db
from ..ledger import reconcile
from . import domain_errors


@click.command("reconcile")
@click.argument("campaign")
@with_appcontext
@domain_errors
def reconcile_command(campaign):
    """Recompute totals from the ledger; exit 1 on any drift."""
    with read_only():
        camp = get_campaign(db.session, campaign)
        drifts = reconcile(db.session, camp)
        db.session.rollback()
    if drifts:
        for drift in drifts:
            click.echo(f"DRIFT {drift}", err=True)
        click.echo(f"{len(drifts)} total(s) disagree with the ledger", err=True)
        sys.exit(1)
    click.echo(f"{camp.slug}: every total agrees with the ledger")


COMMANDS = [reconcile_command]
