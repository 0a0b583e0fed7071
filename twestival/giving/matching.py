"""Match gifts: a sponsor's pot that adds to each eligible gift (1:1, 2:1, …) in a time window,
until it is spent. No Flask here.

Each matched gift gets one linked entry on the ``match`` stream (kind adjustment: money raised,
not a gift of its own), idempotent on ``match:<offer>:<gift entry>``, written in the gift's
transaction. The pot is taken under a row lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite
has one writer), so concurrent gifts in several processes never spend more than it holds: the
last gift in is matched with what is left. A refunded or charged-back gift takes its match back
(a reversal of the match entry) and returns it to the pot.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import BigInteger, ForeignKey, Integer, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.types import JSON

from ..campaigns.models import Campaign, City
from ..errors import InvalidInput
from ..languages import N_
from ..ledger import EntryKind, LedgerEntry, NewEntry, record, reverse
from ..money import Money, check_currency
from ..storage.database import Base, UTCDateTime, utcnow

STREAM = "match"
MATCHED_KINDS = (EntryKind.donation,)
UNDOING_KINDS = (EntryKind.refund, EntryKind.chargeback)


class MatchOffer(Base):
    __tablename__ = "match_offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    sponsor: Mapped[str] = mapped_column(String(200))
    pot_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    ratio: Mapped[int] = mapped_column(Integer)          # 1 doubles a gift, 2 triples it
    cities: Mapped[list | None] = mapped_column(JSON)    # city slugs; None: every city
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def left(self) -> Money:
        return Money(self.pot_minor - self.spent_minor, self.currency)


def create_offer(session: Session, campaign: Campaign, *, sponsor: str, pot: Money, ratio: int,
                 cities: Sequence[City] | None, starts_at: dt.datetime,
                 ends_at: dt.datetime) -> MatchOffer:
    sponsor = " ".join((sponsor or "").split())
    if not sponsor or len(sponsor) > 200:
        raise InvalidInput(N_("a match needs its sponsor's name (at most 200 characters)"))
    if pot.minor <= 0:
        raise InvalidInput(N_("a match pot must be more than zero"))
    currencies = {campaign.currency} | {c.currency for c in cities or ()}
    if pot.currency not in currencies or (cities and len({c.currency for c in cities}) > 1
                                          and pot.currency != campaign.currency):
        raise InvalidInput(N_("a match pot is in the campaign's currency or its cities' one"))
    if not 1 <= ratio <= 10:
        raise InvalidInput(N_("the ratio is a whole number from 1 (1:1) to 10"))
    if starts_at.tzinfo is None or ends_at.tzinfo is None or ends_at <= starts_at:
        raise InvalidInput(N_("a match window needs a start before its end, with time zones"))
    offer = MatchOffer(campaign_id=campaign.id, sponsor=sponsor, pot_minor=pot.minor,
                       currency=check_currency(pot.currency), ratio=ratio,
                       cities=sorted(c.slug for c in cities) if cities else None,
                       starts_at=starts_at, ends_at=ends_at, spent_minor=0, created_at=utcnow())
    session.add(offer)
    session.flush()
    return offer


def edit_offer(session: Session, offer_id: int, *, sponsor: str, pot: Money, ratio: int,
               starts_at: dt.datetime, ends_at: dt.datetime) -> MatchOffer:
    """Change a match's sponsor, pot, ratio or window. Its currency and cities stay; the pot
    never goes below what gifts have already drawn (read under the row lock gifts take)."""
    offer = session.scalar(select(MatchOffer).where(MatchOffer.id == offer_id).with_for_update()
                           .execution_options(populate_existing=True))
    if offer is None:
        raise InvalidInput("there is no such match")
    sponsor = " ".join((sponsor or "").split())
    if not sponsor or len(sponsor) > 200:
        raise InvalidInput("a match needs its sponsor's name (at most 200 characters)")
    if pot.currency != offer.currency:
        raise InvalidInput("a match pot keeps its currency")
    if pot.minor < max(offer.spent_minor, 1):
        raise InvalidInput("the pot cannot be less than gifts have already drawn from it")
    if not 1 <= ratio <= 10:
        raise InvalidInput("the ratio is a whole number from 1 (1:1) to 10")
    if starts_at.tzinfo is None or ends_at.tzinfo is None or ends_at <= starts_at:
        raise InvalidInput("a match window needs a start before its end, with time zones")
    offer.sponsor, offer.pot_minor, offer.ratio = sponsor, pot.minor, ratio
    offer.starts_at, offer.ends_at = starts_at, ends_at
    session.flush()
    return offer


def describe(offer: MatchOffer) -> dict:
    """What the audit log keeps of a match, as it reads now."""
    return {"sponsor": offer.sponsor, "pot_minor": offer.pot_minor, "currency": offer.currency,
            "ratio": offer.ratio, "cities": offer.cities,
            "starts_at": offer.starts_at.isoformat(), "ends_at": offer.ends_at.isoformat()}


def active(session: Session, campaign: Campaign, now: dt.datetime | None = None) -> list[MatchOffer]:
    now = now or utcnow()
    return list(session.scalars(select(MatchOffer).where(
        MatchOffer.campaign_id == campaign.id, MatchOffer.starts_at <= now,
        MatchOffer.ends_at > now, MatchOffer.spent_minor < MatchOffer.pot_minor)
        .order_by(MatchOffer.ends_at)))


def open_offers(session: Session, entries: Sequence[LedgerEntry]) -> list[MatchOffer]:
    """The offers with money left in the campaigns of these gifts (one query; none when no
    gift is among them)."""
    campaigns = {e.campaign_id for e in entries
                 if e.kind in MATCHED_KINDS and e.stream != STREAM and e.city_id is not None}
    if not campaigns:
        return []
    return list(session.scalars(_OPEN_OFFERS, {"campaigns": sorted(campaigns)}))


# Built once: this runs after every webhook group, and building it cost more than running it.
_OPEN_OFFERS = select(MatchOffer).where(
    MatchOffer.campaign_id.in_(bindparam("campaigns", expanding=True)),
    MatchOffer.spent_minor < MatchOffer.pot_minor).order_by(MatchOffer.id)


def apply(session: Session, entries: Sequence[LedgerEntry], offers: Sequence[MatchOffer]) -> None:
    """Match new gifts (from ``open_offers``) and take back the matches of refunded ones (the
    caller's transaction)."""
    for entry in entries:
        if entry.kind in MATCHED_KINDS and entry.stream != STREAM and entry.city_id is not None:
            for offer in offers:
                if (offer.campaign_id == entry.campaign_id
                        and offer.starts_at <= entry.occurred_at < offer.ends_at):
                    _match(session, entry, offer.id)
        elif entry.kind in UNDOING_KINDS and entry.reverses_id is not None:
            _take_back(session, entry.reverses_id)


def _match(session: Session, gift: LedgerEntry, offer_id: int) -> None:
    campaign = session.get(Campaign, gift.campaign_id)
    city = session.get(City, gift.city_id)
    # Read again under the row lock: another process may have spent from it meanwhile.
    offer = session.scalar(select(MatchOffer).where(MatchOffer.id == offer_id)
                           .with_for_update().execution_options(populate_existing=True))
    if offer.cities and city.slug not in offer.cities:
        return
    if offer.currency == gift.currency:
        want = gift.amount_minor * offer.ratio
    elif offer.currency == campaign.currency:
        want = gift.reporting_minor * offer.ratio
    else:
        return
    take = min(want, offer.pot_minor - offer.spent_minor)
    if take <= 0:
        return
    recorded = record(session, NewEntry(
        campaign_id=gift.campaign_id, city_id=gift.city_id, stream=STREAM,
        external_id=f"match:{offer.id}:{gift.id}", amount=Money(take, offer.currency),
        kind=EntryKind.adjustment, occurred_at=gift.occurred_at, donor_name=offer.sponsor,
        note=f"match of entry {gift.id} by {offer.sponsor}",
        meta={"matches": gift.id, "offer": offer.id}))
    if recorded.created:
        offer.spent_minor += take
    session.flush()


def _take_back(session: Session, gift_id: int) -> None:
    matches = session.scalars(select(LedgerEntry).where(
        LedgerEntry.stream == STREAM, LedgerEntry.external_id.like(f"match:%:{gift_id}"),
        LedgerEntry.kind == EntryKind.adjustment)).all()
    for match in matches:
        undone = reverse(session, match.id, reason=f"the matched gift {gift_id} was refunded",
                         stream=STREAM)
        if undone.created:
            offer = session.scalar(select(MatchOffer).where(
                MatchOffer.id == match.meta["offer"]).with_for_update()
                .execution_options(populate_existing=True))
            offer.spent_minor -= match.amount_minor
            session.flush()
