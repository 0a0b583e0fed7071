"""Every message the code and templates hold is translated into German and French.

The messages are extracted afresh with pybabel, with the repo's babel.cfg and the keywords the
docs give (docs/hub.md, "Languages"), so a new `_("…")` without its translations fails here,
not in front of a French donor.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from twestival.languages import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = sorted(set(LANGUAGES) - {"en"})
KEYWORDS = ["_l", "N_"]   # besides pybabel's defaults (_, gettext, ngettext, lazy_gettext, …)
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfr]|(?<![{])\{(\w+)\}(?![}])|%[sd]")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    command = [Path(sys.executable).with_name("pybabel"), "extract", "-F", "babel.cfg",
               *[arg for k in KEYWORDS for arg in ("-k", k)], "-o", str(pot),
               "--no-location", "--project", "twestival", "."]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return {m.id: m for m in read_po(f) if m.id}


def _catalogue(lang):
    with (ROOT / f"translations/{lang}/LC_MESSAGES/messages.po").open("rb") as f:
        return read_po(f)


def _key(msgid) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_extracted_message_is_translated(extracted, lang):
    po = _catalogue(lang)
    missing = [_key(i) for i in extracted if i not in po]
    empty = [_key(m.id) for m in po if m.id and not all(
        (m.string if isinstance(m.string, tuple) else (m.string,)))]
    assert not missing, f"{lang}: {len(missing)} messages lack a translation: {missing[:10]}"
    assert not empty, f"{lang}: empty translations: {empty[:10]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_catalogues_hold_no_fuzzy_or_obsolete_entries(extracted, lang):
    po = _catalogue(lang)
    assert not po.fuzzy, f"{lang}: the header is marked fuzzy"
    assert not [_key(m.id) for m in po if m.id and m.fuzzy]
    assert not po.obsolete, f"{lang}: #~ obsolete entries: {list(po.obsolete)[:5]}"
    unused = [_key(m.id) for m in po if m.id and m.id not in extracted]
    assert not unused, f"{lang}: entries no code uses any more: {unused[:10]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_their_placeholders(lang):
    wrong = []
    for m in _catalogue(lang):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = _placeholders(ids[-1]) | _placeholders(ids[0])
        for string in strings:
            # A singular may say "one" instead of %(num)s; every other name must match.
            if _placeholders(string) - wanted or (_placeholders(ids[0]) - {"%(num)s"}) - \
                    _placeholders(string):
                wrong.append((ids[0], string))
    assert not wrong, f"{lang}: placeholders differ: {wrong[:5]}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_the_compiled_catalogue_matches_its_source(lang):
    # The app reads the .mo: run `pybabel compile -d translations` after editing a .po.
    po = _catalogue(lang)
    with (ROOT / f"translations/{lang}/LC_MESSAGES/messages.mo").open("rb") as f:
        mo = read_mo(f)
    def entries(catalogue):
        return {_hashable(m.id): _hashable(m.string) for m in catalogue if m.id}
    assert entries(po) == entries(mo)


def _hashable(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


# Code, not punctuation: a bank statement's field tags (":61:", ":60F:", ":%(tag)s:") and a
# format field's conversion ("{name!r}", in click's messages).
CODE = re.compile(r":(\d\d[A-Z]?|%\(tag\)s|tag):|![rsa](?=\})")


def test_french_follows_french_typography():
    # An (non-breaking) space before : ; ? ! and inside « », never a plain one that lets the
    # mark wrap alone onto the next line.
    bad = [m.string for m in _catalogue("fr") if m.id and isinstance(m.string, str)
           and re.search(r"( |\w)[;?!»]|« |\w:(?!\d)| :", CODE.sub("", m.string))
           and not re.search(r"https?:|%\(\w+\)s:\d", m.string)]
    assert not bad, bad[:5]


def test_the_checks_catch_what_they_are_for(tmp_path):
    assert _placeholders("%(city)s has {count} of %(target)s") == {"%(city)s", "{count}",
                                                                   "%(target)s"}
    assert _placeholders("{{ not one }}") == set()
    assert CODE.sub("", "la ligne :61: et :%(tag)s: de {name!r}") == "la ligne  et  de {name}"
