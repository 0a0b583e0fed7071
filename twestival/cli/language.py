"""The command line's language, chosen from the environment as GNU gettext chooses it.

LANGUAGE, LC_ALL, LC_MESSAGES, LANG: the first one set wins (LANGUAGE may list several,
"fr:de", tried in order). ``fr_FR.UTF-8`` means French; ``C``, ``POSIX`` and languages we do
not speak mean English. Read at every call, not at import: one process (a test runner) may run
commands in several languages. Only what a person reads is translated; machine output (CSV,
JSON, secrets, ids, the columns of ``fx list`` and ``mapping list``) stays as it is.
"""
from __future__ import annotations

import gettext
import os
from collections.abc import Mapping

import click
from babel.support import LazyProxy

from .. import ROOT
from ..languages import DEFAULT, LANGUAGES, translator

VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

# Click says its own texts ("Usage:", "Error:", "Missing argument", ...) through the standard
# library's gettext in its default domain, "messages", which reads the same variables at every
# call: pointed at our catalogues (named "messages" too), they follow the command line's
# language. The msgids are listed in click_texts, for extraction.
gettext.bindtextdomain("messages", str(ROOT / "translations"))


def cli_language(environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    for name in VARIABLES:
        value = environ.get(name)
        if value:
            for entry in value.split(":"):
                code = entry.split(".")[0].split("@")[0].split("_")[0].lower()
                if code in LANGUAGES:
                    return code
            return DEFAULT
    return DEFAULT


def _(msgid: str, /, **values) -> str:
    """``msgid`` in the environment's language, with its named values filled in."""
    text = translator(cli_language()).gettext(msgid)
    return text % values if values else text


def ngettext(singular: str, plural: str, num: int, /, **values) -> str:
    return translator(cli_language()).ngettext(singular, plural, num) % dict(values, num=num)


def _l(message: str) -> LazyProxy:
    """Translated when shown: help texts are built at import, before the language is known."""
    return LazyProxy(lambda: _(message), enable_cache=False)


class Option(click.Option):
    """An option whose help is translated when shown (click makes it a plain string at once)."""

    def __init__(self, *args, help=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._help = help

    @property
    def help(self) -> str | None:
        return None if self._help is None else str(self._help)

    @help.setter
    def help(self, value) -> None:
        self._help = value


def option(*args, **kwargs):
    return click.option(*args, cls=Option, **kwargs)


def say(exc) -> str:
    """A domain error or a kept phrase in the environment's language."""
    return exc.translated(translator(cli_language()).gettext)
