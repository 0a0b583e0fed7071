"""What the screens cheer for besides milestones: a gift among the night's largest.

"Among the largest" means one of the campaign's three largest gifts on the wall so far,
compared in the reporting currency (so ¥100,000 and £500 compete fairly); equal amounts keep
the earlier gift's place. Refunded gifts drop out, like on the wall.
"""
from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from ..campaigns.models import Campaign
from ..ledger.models import EntryKind, LedgerEntry
from .gifts import GIFT_STREAMS

LARGEST = 3

_reversal = aliased(LedgerEntry)


def largest_ids(session: Session, campaign: Campaign, gifts: list[dict]) -> list[int]:
    """The ids among ``gifts`` (just pushed) that are now among the campaign's largest."""
    if not gifts:
        return []
    top = set(session.scalars(
        select(LedgerEntry.id)
        .where(LedgerEntry.campaign_id == campaign.id, LedgerEntry.kind == EntryKind.donation,
               LedgerEntry.stream.in_(GIFT_STREAMS), LedgerEntry.city_id.is_not(None),
               ~exists().where(_reversal.reverses_id == LedgerEntry.id))
        .order_by(LedgerEntry.reporting_minor.desc(), LedgerEntry.id).limit(LARGEST)))
    return [g["id"] for g in gifts if g["id"] in top]
