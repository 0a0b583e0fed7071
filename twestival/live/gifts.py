"""The gift wall: donations as the public sees them, newest first.

Only gifts given where a donor could choose a name for the board (the donate form's Stripe
checkout, PayPal, the API) are on the wall. Ticket exports, bank statements and cash counts
carry buyers', account holders' or counters' names, never meant for a screen, so they stay off.
Names and messages pass through moderation here, at read time: the ledger keeps what arrived.
"""
from __future__ import annotations

import re
import unicodedata

from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import Session, aliased

from ..campaigns.models import Campaign, City
from ..storage.database import utcnow
from ..errors import InvalidInput, NotFound
from ..giving.matching import STREAM as MATCH_STREAM, MatchOffer
from ..ledger.models import EntryKind, LedgerEntry
from .models import GiftModeration

GIFT_STREAMS = ("stripe", "paypal", "api")
NAME_MAX = 80
MESSAGE_MAX = 280
PAGE_MAX = 100
WALL = 20   # gifts in a snapshot and, at most, in one update
# When more than WALL gifts arrived between two updates, the largest are picked among at most
# this many of the newest: a bulk load must not make one update scan it all.
LARGEST_AMONG = 2000

_reversal = aliased(LedgerEntry)
_undone = aliased(LedgerEntry)
_entry = LedgerEntry.__table__.c
# A match gift's id names its offer and the gift it matched (``giving.matching``:
# "match:<offer>:<gift>"); one taken back (the gift refunded) is reversed. Looked up by those
# exact ids through the (stream, external_id) key: a pattern on the gift's id would read every
# match entry of the campaign once per gift on the wall.
_MATCHES = (select(_entry.external_id)
            .where(_entry.stream == MATCH_STREAM,
                   _entry.external_id.in_(bindparam("keys", expanding=True)),
                   ~exists().where(_undone.reverses_id == _entry.id)))
_OFFERS = select(MatchOffer.id).where(MatchOffer.campaign_id == bindparam("campaign_id"))
CHUNK = 900


def _matched(session: Session, campaign_id: int, gift_ids: list[int]) -> set[int]:
    """Which of these gifts a match applied to (and was not taken back)."""
    offers = session.execute(_OFFERS, {"campaign_id": campaign_id}).scalars().all()
    if not offers or not gift_ids:
        return set()   # most campaigns, most of the night: one indexed read
    keys = [f"match:{offer}:{gift}" for offer in offers for gift in gift_ids]
    found = set()
    for start in range(0, len(keys), CHUNK):
        for key in session.execute(_MATCHES, {"keys": keys[start:start + CHUNK]}).scalars():
            found.add(int(key.rpartition(":")[2]))
    return found


def clean_text(text: str | None, limit: int) -> str | None:
    """No control or format characters (no bidi overrides, no zero-width tricks), single
    spaces, at most ``limit`` characters."""
    if not text:
        return None
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
                   for ch in text)
    kept = " ".join(kept.split())
    if len(kept) > limit:
        kept = kept[:limit - 1].rstrip() + "…"
    return kept or None


def moderation_words(setting) -> tuple[str, ...]:
    """MODERATION_WORDS: a list, or one string of words separated by commas or new lines."""
    if not setting:
        return ()
    if isinstance(setting, str):
        setting = re.split(r"[,\n]", setting)
    return tuple(w.strip().casefold() for w in setting if isinstance(w, str) and w.strip())


def is_held(text: str | None, words: tuple[str, ...]) -> bool:
    if not text or not words:
        return False
    folded = text.casefold()
    return any(re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", folded) for w in words)


def _query(campaign: Campaign):
    """Only the columns a gift shows: a push reads these several times a second."""
    return (select(LedgerEntry.id, City.slug.label("city"), LedgerEntry.city_id,
                   LedgerEntry.amount_minor, LedgerEntry.currency, LedgerEntry.reporting_minor,
                   LedgerEntry.donor_name, LedgerEntry.message, LedgerEntry.anonymous,
                   LedgerEntry.occurred_at, GiftModeration.name_hidden,
                   GiftModeration.message_hidden, GiftModeration.message_approved)
            .join(City, City.id == LedgerEntry.city_id)
            .outerjoin(GiftModeration, GiftModeration.entry_id == LedgerEntry.id)
            .where(LedgerEntry.campaign_id == campaign.id,
                   LedgerEntry.kind == EntryKind.donation,
                   LedgerEntry.stream.in_(GIFT_STREAMS),
                   ~exists().where(_reversal.reverses_id == LedgerEntry.id)))


def _gifts(session: Session, campaign: Campaign, rows, words: tuple[str, ...]) -> list[dict]:
    matched = _matched(session, campaign.id, [row.id for row in rows])
    return [to_gift(row, words, row.id in matched) for row in rows]


def to_gift(row, words: tuple[str, ...], matched: bool = False) -> dict:
    """A row of ``_query`` as the public sees it."""
    name = message = None
    if not row.anonymous:
        approved = bool(row.message_approved)
        name = None if row.name_hidden else clean_text(row.donor_name, NAME_MAX)
        message = None if row.message_hidden else clean_text(row.message, MESSAGE_MAX)
        if is_held(message, words) and not approved:
            message = None
        if is_held(name, words) and not approved:
            name = None
    return {"id": row.id, "city": row.city, "amount_minor": row.amount_minor,
            "currency": row.currency, "donor_name": name, "message": message,
            "at": row.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "matched": matched}


def latest(session: Session, campaign: Campaign, words: tuple[str, ...] = (), *,
           city: City | None = None, limit: int = WALL, before: int | None = None) -> list[dict]:
    query = _query(campaign)
    if city is not None:
        query = query.where(LedgerEntry.city_id == city.id)
    if before is not None:
        query = query.where(LedgerEntry.id < before)
    rows = session.execute(query.order_by(LedgerEntry.id.desc()).limit(limit)).all()
    return _gifts(session, campaign, rows, words)


def page_args(limit: str | None, before: str | None) -> tuple[int, int | None]:
    """The API's ``limit`` and ``before``, checked."""
    try:
        count = WALL if limit in (None, "") else int(limit)
        cursor = None if before in (None, "") else int(before)
    except ValueError:
        raise InvalidInput("limit and before must be whole numbers") from None
    if not 1 <= count <= PAGE_MAX:
        raise InvalidInput(f"limit must be between 1 and {PAGE_MAX}")
    if cursor is not None and cursor < 1:
        raise InvalidInput("before must be a gift id")
    return count, cursor


def since(session: Session, campaign: Campaign, after_id: int,
          words: tuple[str, ...] = ()) -> tuple[list[dict], int]:
    """Gifts after ``after_id``, newest first, at most WALL: when more arrived, the largest
    (in the reporting currency) and the newest, half each. Also the newest id seen."""
    query = _query(campaign).where(LedgerEntry.id > after_id)
    newest = session.execute(query.order_by(LedgerEntry.id.desc()).limit(LARGEST_AMONG)).all()
    if not newest:
        return [], after_id
    top_id = newest[0].id
    if len(newest) > WALL:
        half = WALL // 2
        chosen = {r.id: r for r in sorted(newest, key=lambda r: (-r.reporting_minor, -r.id))[:half]}
        for row in newest:
            if len(chosen) >= WALL:
                break
            chosen.setdefault(row.id, row)
        newest = sorted(chosen.values(), key=lambda r: -r.id)
    return _gifts(session, campaign, newest, words), top_id


ACTIONS = ("hide", "hide_name", "hide_message", "show")


def decide(session: Session, campaign: Campaign, entry_id: int, action: str, *,
           city: City | None, by_user_id: int | None) -> None:
    """``hide`` (name and message), ``hide_name`` or ``hide_message`` (one of them), ``show``
    (both again, a held one approved) for one gift; ``city`` limits it to that city's gifts
    (an organiser's desk)."""
    if action not in ACTIONS:
        raise InvalidInput("action must be hide, hide_name, hide_message or show")
    found = session.execute(_query(campaign).where(LedgerEntry.id == entry_id)).first()
    if found is None or (city is not None and found.city_id != city.id):
        raise NotFound("no such gift")
    mod = session.get(GiftModeration, entry_id)
    if mod is None:
        mod = GiftModeration(entry_id=entry_id, campaign_id=campaign.id, name_hidden=False,
                             message_hidden=False, message_approved=False)
        session.add(mod)
    if action == "show":
        mod.name_hidden = mod.message_hidden = False
        mod.message_approved = True
    else:
        mod.name_hidden = mod.name_hidden or action in ("hide", "hide_name")
        mod.message_hidden = mod.message_hidden or action in ("hide", "hide_message")
    mod.decided_by_id, mod.decided_at = by_user_id, utcnow()
    session.flush()
