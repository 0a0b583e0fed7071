"""Append translation fragments (translations/<lang>-<name>.po: plain msgid/msgstr entries,
no header) to translations/<lang>/LC_MESSAGES/messages.po, then compile.

    .venv/bin/python scripts/merge_translation_fragments.py [--keep]

Helpers working in parallel write their French into fragments so that merging their branches
never conflicts inside one catalogue. Entries already in the catalogue are left as they are
(the catalogue wins; a differing fragment entry is reported). French gets its no-break spaces
before : ; ? ! and inside « », as the catalogue test asks. Fragments are deleted unless --keep.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "translations"
NBSP = "\u00a0"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\t", "\\t") + '"'


def _french(text: str) -> str:
    text = re.sub(r"[ \u202f]([:;?!])", NBSP + r"\1", text)
    return text.replace("« ", "«" + NBSP).replace(" »", NBSP + "»")


def _entry(message, lang: str) -> str:
    fix = _french if lang == "fr" else (lambda s: s)
    flags = "".join(f"#, {flag}\n" for flag in sorted(message.flags - {"fuzzy"}))
    if isinstance(message.id, tuple):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        lines = [f"msgid {_quote(message.id[0])}", f"msgid_plural {_quote(message.id[1])}"]
        lines += [f"msgstr[{i}] {_quote(fix(s))}" for i, s in enumerate(strings)]
    else:
        lines = [f"msgid {_quote(message.id)}", f"msgstr {_quote(fix(message.string))}"]
    return flags + "\n".join(lines) + "\n"


def merge(keep: bool) -> int:
    problems = 0
    for fragment in sorted(TRANSLATIONS.glob("*-*.po")):
        lang = fragment.stem.split("-", 1)[0]
        catalogue_path = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
        with catalogue_path.open("rb") as f:
            catalogue = read_po(f)
        with fragment.open("rb") as f:
            entries = [m for m in read_po(f) if m.id]
        added = []
        for message in entries:
            if message.id in catalogue:
                if catalogue[message.id].string != message.string:
                    print(f"{fragment.name}: kept the catalogue's {message.id!r}", file=sys.stderr)
                continue
            if not message.string or not all(message.string if isinstance(message.string, tuple)
                                              else (message.string,)):
                print(f"{fragment.name}: {message.id!r} has no translation", file=sys.stderr)
                problems += 1
                continue
            added.append(_entry(message, lang))
        if added:
            with catalogue_path.open("a", encoding="utf-8") as f:
                f.write("\n" + "\n".join(added))
        print(f"{fragment.name}: {len(added)} entries added to {lang}")
        if not keep:
            fragment.unlink()
    subprocess.run([Path(sys.executable).with_name("pybabel"), "compile", "-d", str(TRANSLATIONS)],
                   check=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(merge(keep="--keep" in sys.argv[1:]))
