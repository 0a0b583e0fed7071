"""Which city a bank credit belongs to, and whether it is a payout of money already counted.

A city's ``bank_reference`` (e.g. "TW-0042") is found in the remittance text whatever the
case, spacing or punctuation, and with or without leading zeros ("tw 42", "TW0042", "Tw/042"),
but not inside a longer word or number ("TW-421", "XTW42").
"""
from __future__ import annotations

import re

from ...campaigns.models import City

# Stripe and PayPal pay out in bulk to the charity's account; those credits are donations that
# were already counted one by one when they arrived through their own streams.
PAYOUT_RE = re.compile(r"(?<![A-Za-z])(stripe|paypal)(?![A-Za-z])|\bpo_[A-Za-z0-9]{8,}",
                       re.IGNORECASE)


def reference_pattern(reference: str | None) -> re.Pattern | None:
    parts = _parts(reference)
    return None if parts is None else re.compile("".join(parts), re.IGNORECASE)


def _parts(reference: str | None) -> tuple[str, str, str] | None:
    """The pattern of a reference as (its first part, with what may not come before it; the
    rest; what may not come after), or None for a reference with no letters or digits."""
    parts = re.findall(r"[A-Za-z]+|\d+", reference or "")
    if not parts:
        return None
    pieces = []
    for part in parts:
        pieces.append("0*" + (part.lstrip("0") or "0") if part.isdigit() else re.escape(part))
    before = r"(?<![0-9])" if parts[0].isdigit() else r"(?<![A-Za-z])"
    after = r"(?![0-9])" if parts[-1].isdigit() else r"(?![A-Za-z])"
    return before + pieces[0], "".join(r"[\W_]*" + piece for piece in pieces[1:]), after


class Matcher:
    """The cities whose references a text names, found by one regex rather than a search per
    city on every line of a statement."""

    def __init__(self, cities: list[City]):
        self.patterns: list[tuple[City, re.Pattern]] = []
        heads: dict[str, None] = {}
        wholes: list[str] = []
        for city in cities:
            parts = _parts(city.bank_reference)
            if parts is not None:
                self.patterns.append((city, re.compile("".join(parts), re.IGNORECASE)))
                heads[parts[0]] = None
                wholes.append("".join(parts))
        # Stops where some reference's first part is (few places in a line: cheap to look
        # for), and there tries every whole reference, each a capturing lookahead (group n+1
        # for city n) that may match nothing; a city named further on is found by searching
        # again after that place.
        self._named = re.compile(
            "(?=" + "|".join(heads) + ")" + "".join(f"(?:(?=({whole}))|)" for whole in wholes),
            re.IGNORECASE) if wholes else None

    def cities(self, text: str | None) -> list[City]:
        if not text or self._named is None:
            return []
        found = self._named.search(text)
        named: set[int] = set()
        while found is not None:
            groups = found.groups()
            unnamed = groups.count(None)
            if unnamed == len(groups) - 1:   # one city named here: the usual case
                named.add(found.lastindex - 1)
            elif unnamed < len(groups):
                named.update(n for n, group in enumerate(groups) if group is not None)
            found = self._named.search(text, found.start() + 1)
        if len(named) == 1:
            return [self.patterns[named.pop()][0]]
        return [city for n, (city, _pattern) in enumerate(self.patterns) if n in named]


def payout_marker(text: str | None) -> str | None:
    """'stripe', 'paypal' or a Stripe payout id when the text names one, else None."""
    if not text:
        return None
    # Most texts name none, and for ASCII text (no letter that folds into a-z) the lowered text
    # must contain one of the words for the regex to match: cheaper than the regex's search.
    if text.isascii():
        lowered = text.lower()
        if "stripe" not in lowered and "paypal" not in lowered and "po_" not in lowered:
            return None
    match = PAYOUT_RE.search(text)
    if match is None:
        return None
    return (match.group(1) or match.group(0)).lower() if match.group(1) else match.group(0)
