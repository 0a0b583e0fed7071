#!/usr/bin/env python3
"""Check that a twestival campaign's ledger today extends a digest you kept earlier.

Needs only Python 3 (standard library). Download the two public files of the campaign:

    curl -o old.json  https://HOST/c/CAMPAIGN/ledger/digest        # keep this one; later:
    curl -o chain.csv https://HOST/c/CAMPAIGN/ledger/chain.csv
    curl -o new.json  https://HOST/c/CAMPAIGN/ledger/digest        # optional
    python3 verify_digest.py old.json chain.csv [new.json]

It recomputes every link's SHA-256 from the fields in chain.csv (docs/ledger-chain.md gives
the encoding), checks that each link chains to the one before, that the link at the old
digest's position has the old digest's head hash (so nothing you were shown then was
changed, removed or reordered since), and, with new.json, that the chain ends at its head.
Exit 0 when it all holds, 1 with the first problem otherwise.
"""
from __future__ import annotations

import csv
import hashlib
import json
import sys

VERSION = "twestival-ledger-1"
GENESIS = "0" * 64
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str | None:
    """Undo the export's spreadsheet guard (a leading apostrophe) and its empty-means-null."""
    if text.startswith("'") and text[1:2] and text[1] in "".join(UNSAFE_START):
        text = text[1:]
    return text or None


def link_hash(position: str, previous: str, fields: list[str | None],
              personal: str | None) -> str:
    encoded = json.dumps([VERSION, position, previous, *fields, personal],
                         ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


def walk(path: str):
    """(position, hash) for each link, after checking it against the link before."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        if header[:3] != ["position", "hash", "personal"]:
            raise SystemExit(f"{path}: not a twestival chain export")
        previous = GENESIS
        for expected, row in enumerate(reader, start=1):
            values = [cell(v) for v in row]
            position, stored, personal, fields = values[0], values[1], values[2], values[3:]
            if position != str(expected):
                fail(f"position {expected}: the export jumps to {position}")
            if link_hash(position, previous, fields, personal) != stored:
                fail(f"position {position} (entry #{fields[0]}): its fields do not give its hash")
            previous = stored
            yield expected, stored


def fail(message: str) -> None:
    print(f"NOT VERIFIED: {message}")
    sys.exit(1)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    with open(argv[0], encoding="utf-8") as handle:
        old = json.load(handle)
    new = None
    if len(argv) == 3:
        with open(argv[2], encoding="utf-8") as handle:
            new = json.load(handle)
    count, last = 0, GENESIS
    at_old = GENESIS if old["entries"] == 0 else None
    for position, stored in walk(argv[1]):
        count, last = position, stored
        if position == old["entries"]:
            at_old = stored
    if count < old["entries"]:
        fail(f"the ledger has {count} entries, fewer than the {old['entries']} of the old digest")
    if at_old != old["head"]:
        fail(f"position {old['entries']} no longer has the old digest's head hash: the "
             "ledger as it was then was changed")
    if new is not None and (new["entries"], new["head"]) != (count, last):
        fail(f"the export ends at position {count} with {last}, the new digest says "
             f"{new['entries']} with {new['head']}")
    print(f"VERIFIED: the ledger's {count} entries extend the {old['entries']} of the old "
          f"digest (head {last})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
