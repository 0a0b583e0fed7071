"""The ``twestival`` command: a Flask CLI group (``flask --app twestival`` sees the same)."""
from __future__ import annotations

import atexit
import functools
import sys

import click
from flask import Flask
from flask.cli import FlaskGroup, routes_command, shell_command

from sqlalchemy.exc import OperationalError

from ..errors import DomainError
from .language import _, say


class CliError(click.ClickException):
    """Bad input from the command line: one line on stderr, exit status 2, nothing written."""
    exit_code = 2

    def show(self, file=None) -> None:
        # click's own "Error:" is English whatever the language; ours says it in the reader's.
        click.echo(_("Error: %(message)s", message=self.format_message()),
                   file=file, err=file is None, color=self.show_color)


def domain_errors(func):
    """Turn a domain refusal into a CLI error after rolling back anything half-done."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from ..extensions import db
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            raise CliError(say(exc)) from None
        except OperationalError as exc:
            db.session.rollback()
            if "no such table" in str(exc) or "does not exist" in str(exc):
                raise CliError(
                    _("the database has no tables yet: run `twestival db upgrade`")) from None
            raise
    return wrapper


def init_app(app: Flask) -> None:
    from . import backup, donors, fx, imports, ledger, planning, serve, setup
    for module in (setup, ledger, serve, planning, imports, backup, fx, donors):
        for command in module.COMMANDS:
            app.cli.add_command(command)


def _create_app():
    from .. import create_app
    from ..settings import SettingsError
    try:
        app = create_app()
    except SettingsError as exc:
        click.echo(_("Error: %(message)s", message=exc), err=True)
        sys.exit(2)
    # A command that records money exits right after its commit: push the change first.
    atexit.register(app.extensions["twestival.live"].drain)
    return app


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False)
def cli():
    """twestival: one night, many cities, one cause."""


cli.add_command(shell_command)
cli.add_command(routes_command)


def main() -> None:
    # Serving uses gevent; it must patch the standard library before anything else is imported.
    # Only serving patches: under gevent SQLite's busy wait blocks every greenlet, so a command
    # that just writes and exits (demo --no-serve) is better off with real threads.
    serving = len(sys.argv) > 1 and (sys.argv[1] == "run" or
                                     (sys.argv[1] == "demo" and "--no-serve" not in sys.argv))
    if serving:
        from gevent import monkey
        monkey.patch_all()
    cli.main()
