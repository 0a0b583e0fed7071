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
    parts = re.findall(r"[A-Za-z]+|\d+", reference or "")
    if not parts:
        return None
    pieces = []
    for part in parts:
        pieces.append("0*" + (part.lstrip("0") or "0") if part.isdigit() else re.escape(part))
    before = r"(?<![0-9])" if parts[0].isdigit() else r"(?<![A-Za-z])"
    after = r"(?![0-9])" if parts[-1].isdigit() else r"(?![A-Za-z])"
    return re.compile(before + r"[\W_]*".join(pieces) + after, re.IGNORECASE)


class Matcher:
    def __init__(self, cities: list[City]):
        self.patterns = [(city, pattern) for city in cities
                         if (pattern := reference_pattern(city.bank_reference)) is not None]

    def cities(self, text: str | None) -> list[City]:
        if not text:
            return []
        return [city for city, pattern in self.patterns if pattern.search(text)]


def payout_marker(text: str | None) -> str | None:
    """'stripe', 'paypal' or a Stripe payout id when the text names one, else None."""
    match = PAYOUT_RE.search(text or "")
    if match is None:
        return None
    return (match.group(1) or match.group(0)).lower() if match.group(1) else match.group(0)
