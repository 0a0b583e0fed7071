"""The languages people read twestival in, and translation outside a request.

Domain code stays free of Flask: it raises errors whose English text is a catalogue msgid
with named values (`InvalidInput("at most %(limit)s characters", limit=200)`) and writes mail
with `translator(lang)` for the recipient's language, not the one of whoever caused the mail.
"""
from __future__ import annotations

from functools import cache

from babel.support import Translations

from . import ROOT

LANGUAGES = {"en": "English", "de": "Deutsch", "fr": "Français"}
DEFAULT = "en"


def language_of(code: str | None) -> str:
    """A stored or requested language, or the default when it is none we speak."""
    code = (code or "").replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else DEFAULT


@cache
def translator(lang: str) -> Translations:
    return Translations.load(str(ROOT / "translations"), [language_of(lang)])


def N_(message: str) -> str:
    """Marks a msgid for extraction where it is translated later, at the edge."""
    return message
