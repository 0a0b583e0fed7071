"""Which city a bank credit belongs to, and whether it is a payout of money already counted.

A city's ``bank_reference`` (e.g. "TW-0042") is found in the remittance text whatever the
case, spacing or punctuation, and with or without leading zeros ("tw 42", "TW0042", "Tw/042"),
but not inside a longer word or number ("TW-421", "XTW42").
"""
from __future__ import annotations

import re
from typing import NamedTuple

from ...campaigns.models import City

# Stripe and PayPal pay out in bulk to the charity's account; those credits are donations that
# were already counted one by one when they arrived through their own streams.
PAYOUT_RE = re.compile(r"(?<![A-Za-z])(stripe|paypal)(?![A-Za-z])|\bpo_[A-Za-z0-9]{8,}",
                       re.IGNORECASE)


class _Reference(NamedTuple):
    """A city's reference as a pattern, in parts."""
    before: str              # what may not come before it
    pieces: list[str]        # the pattern of each of its runs of letters or digits
    starts: list[set[str]]   # the characters each run can start with
    after: str               # what may not come after it

    @property
    def pattern(self) -> str:
        return self.before + r"[\W_]*".join(self.pieces) + self.after


def _reference(text: str | None) -> _Reference | None:
    """None for a reference with no letters or digits."""
    parts = re.findall(r"[A-Za-z]+|\d+", text or "")
    if not parts:
        return None
    pieces, starts = [], []
    for part in parts:
        if part.isdigit():
            number = part.lstrip("0") or "0"
            pieces.append("0*" + number)
            starts.append({"0", number[0]})
        else:
            pieces.append(re.escape(part))
            starts.append({part[0]})
    before = r"(?<![0-9])" if parts[0].isdigit() else r"(?<![A-Za-z])"
    after = r"(?![0-9])" if parts[-1].isdigit() else r"(?![A-Za-z])"
    return _Reference(before, pieces, starts, after)


class Matcher:
    """The cities whose references a text names, found by one regex rather than a search per
    city on every line of a statement."""

    def __init__(self, cities: list[City]):
        self.known: list[City] = []   # the cities with a reference, in the order given
        wholes: list[str] = []
        # What a reference's text must begin with, by first run: that run, then the first
        # character of the next run (or the end of the reference).
        heads: dict[str, tuple[set[str], set[str]]] = {}
        for city in cities:
            reference = _reference(city.bank_reference)
            if reference is None:
                continue
            self.known.append(city)
            wholes.append(reference.pattern)
            nexts, ends = heads.setdefault(reference.before + reference.pieces[0], (set(), set()))
            if len(reference.pieces) > 1:
                nexts.update(reference.starts[1])
            else:
                ends.add(reference.after)
        self.ids = [city.id for city in self.known]
        starts = "|".join(
            first + "(?:" + "|".join(
                ([r"[\W_]*[" + "".join(re.escape(c) for c in sorted(nexts)) + "]"]
                 if nexts else []) + sorted(ends)) + ")"
            for first, (nexts, ends) in heads.items())
        # Stops only where a reference may begin (few places in a line: cheap to look for),
        # and there tries every whole reference, each a capturing lookahead (group n+1 for
        # city n) that may match nothing; a city named further on is found by searching again
        # after that place.
        self._named = re.compile(
            "(?=" + starts + ")" + "".join(f"(?:(?=({whole}))|)" for whole in wholes),
            re.IGNORECASE) if wholes else None

    def named(self, text: str | None) -> list[int]:
        """Which cities (their positions in ``known``) the text names."""
        if not text or self._named is None:
            return []
        search = self._named.search
        found = search(text)
        named: list[int] = []
        while found is not None:
            groups = found.groups()
            hits = len(groups) - groups.count(None)
            if hits == 1:   # one city named here: the usual case
                named.append(found.lastindex - 1)
            elif hits:
                named.extend(n for n, group in enumerate(groups) if group is not None)
            found = search(text, found.start() + 1)
        return named if len(named) < 2 else sorted(set(named))

    def cities(self, text: str | None) -> list[City]:
        return [self.known[n] for n in self.named(text)]


def payout_marker(text: str | None) -> str | None:
    """'stripe', 'paypal' or a Stripe payout id when the text names one, else None."""
    if not text:
        return None
    # Most texts name none. In ASCII text the regex's case-insensitive match is the lowered
    # text's plain one, so it can only match where the lowered text contains one of the words:
    # cheaper to ask than to run the regex.
    if text.isascii():
        lowered = text.lower()
        if "stripe" not in lowered and "paypal" not in lowered and "po_" not in lowered:
            return None
    match = PAYOUT_RE.search(text)
    if match is None:
        return None
    return (match.group(1) or match.group(0)).lower() if match.group(1) else match.group(0)
