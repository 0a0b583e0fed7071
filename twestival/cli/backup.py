"""``twestival backup FILE``: a consistent copy of the SQLite database while the app serves."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from ..backup import backup_sqlite
from ..extensions import db
from . import CliError, domain_errors
from .language import _, _l


@click.command("backup", help=_l("Copy the SQLite database to FILE while the app keeps serving."))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
@domain_errors
def backup_command(file):
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise CliError(_("twestival backup copies a SQLite database; for PostgreSQL use pg_dump "
                         "or a base backup with WAL archiving (docs/operations.md, Backups)"))
    done = backup_sqlite(Path(url.database), file)
    click.echo(_("%(path)s: %(pages)s pages (%(mib)s MiB) copied in %(seconds)s s",
                 path=done.path, pages=done.pages, mib=f"{done.bytes / 2**20:.1f}",
                 seconds=f"{done.seconds:.2f}"))


COMMANDS = [backup_command]
