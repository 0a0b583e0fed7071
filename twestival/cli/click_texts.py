"""The texts of click's own that people using our commands read: usage lines, usage errors and
the help of options click adds. Click says them through the standard library's ``gettext``
(domain "messages"), which ``language`` points at our catalogues, so they follow the command
line's language once our catalogues translate them.

Listed here only so that ``pybabel extract`` keeps them in the catalogues (click's own source
is not extracted). The msgids must be click's exactly; a test checks each against the click
that is installed, so an upgrade that rewords one shows up.
"""
from __future__ import annotations

from ..languages import N_


def ngettext(singular: str, plural: str, _n: int) -> tuple[str, str]:
    """Marks a singular/plural pair: pybabel extracts ``ngettext`` calls as plural messages."""
    return singular, plural

TEXTS = (
    N_("Usage:"), N_("Options"), N_("Commands"),
    N_("Show this message and exit."),
    N_("Error: {message}"), N_("Try '{command} {option}' for help."),
    N_("Missing argument"), N_("Missing option"), N_("Missing command."),
    N_("No such option {name!r}."), N_("No such command {name!r}."),
    N_("Invalid value for {param_hint}: {message}"), N_("Invalid value: {message}"),
    N_("Option {name!r} does not take a value."),
    N_("{value!r} is not a valid {number_type}."),
    N_("file"), N_("directory"), N_("path"),
    N_("{name} {filename!r} does not exist."), N_("{name} {filename!r} is a directory."),
    N_("{name} {filename!r} is not readable."),
    N_("default: {default}"), N_("required"), N_("Aborted!"),
)
PLURALS = (
    ngettext("Got unexpected extra argument ({args})",
             "Got unexpected extra arguments ({args})", 2),
    ngettext("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)", 2),
    ngettext("{value!r} is not {choice}.", "{value!r} is not one of {choices}.", 2),
    ngettext("Option {name!r} requires an argument.",
             "Option {name!r} requires {nargs} arguments.", 2),
)
