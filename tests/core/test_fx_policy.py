"""A campaign that fixes its rates converts every gift at one day's rates, through ``record``
and ``record_many`` alike; a campaign that does not converts each at its own day's."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from twestival.campaigns.service import add_city, get_campaign, get_city
from twestival.ledger import LedgerEntry, NewEntry, record
from twestival.ledger.bulk import record_many
from twestival.ledger.fx import FxError, enter_rate, fix_rates
from twestival.money import Money

UTC = dt.timezone.utc
# 2024-04-30: JPY 168.27 and GBP 0.85478 per euro.
APRIL = dt.datetime(2024, 4, 30, 12, tzinfo=UTC)
JUNE = dt.datetime(2024, 6, 3, 12, tzinfo=UTC)


@pytest.fixture
def ctx(session, seed):
    campaign = get_campaign(session, seed)
    return campaign, get_city(session, campaign, "tokyo")


def gift(campaign, city, ext, at):
    return NewEntry(campaign_id=campaign.id, city_id=city.id, stream="test", external_id=ext,
                    amount=Money(10000, "JPY"), occurred_at=at)


def test_each_gift_at_its_own_days_rates_by_default(session, ctx):
    campaign, tokyo = ctx
    april = record(session, gift(campaign, tokyo, "a", APRIL)).entry
    june = record(session, gift(campaign, tokyo, "b", JUNE)).entry
    assert (april.fx_date, june.fx_date) == (dt.date(2024, 4, 30), dt.date(2024, 6, 3))
    assert april.fx_rate != june.fx_rate


def test_a_fixed_day_converts_every_gift_at_its_rates(session, ctx):
    campaign, tokyo = ctx
    fix_rates(session, campaign, dt.date(2024, 4, 30))
    session.commit()
    june = record(session, gift(campaign, tokyo, "b", JUNE)).entry
    [outcome] = record_many(session, [gift(campaign, tokyo, "c", JUNE + dt.timedelta(days=2))])
    session.commit()
    assert outcome.created
    bulk = session.scalar(select(LedgerEntry).where(LedgerEntry.external_id == "c"))
    for entry in (june, bulk):
        assert entry.fx_date == dt.date(2024, 4, 30)
        assert Decimal(entry.fx_rate) == Decimal("0.0050798122")   # 0.85478 / 168.27
        assert entry.reporting_minor == 5080
        assert entry.occurred_at.date() >= JUNE.date()             # the gift keeps its time
    # Back to daily: the next gift takes its own day's rate; recorded ones keep theirs.
    fix_rates(session, campaign, None)
    later = record(session, gift(campaign, tokyo, "d", JUNE)).entry
    assert later.fx_date == dt.date(2024, 6, 3)
    assert session.get(LedgerEntry, june.id).fx_date == dt.date(2024, 4, 30)


def test_a_fixed_day_before_an_entered_rate_finds_none(session, ctx):
    campaign, _tokyo = ctx
    nairobi = add_city(session, campaign, "nairobi", name="Nairobi", country="KE",
                       currency="KES", timezone="Africa/Nairobi", target="100000.00")
    enter_rate(session, "KES", "140.25", dt.date(2024, 6, 1), "Central Bank of Kenya")
    fix_rates(session, campaign, dt.date(2024, 5, 31))
    session.commit()
    kes = NewEntry(campaign_id=campaign.id, city_id=nairobi.id, stream="test", external_id="k",
                   amount=Money(50000, "KES"), occurred_at=JUNE)
    with pytest.raises(FxError, match="no exchange rate for KES on or before 2024-05-31"):
        record(session, kes)
    session.rollback()
    fix_rates(session, campaign, dt.date(2024, 6, 1))
    entry = record(session, kes).entry
    # 2024-06-01 was a Saturday: GBP 0.85365 per euro (Friday's), KES 140.25 as entered.
    assert Decimal(entry.fx_rate) == (Decimal("0.85365") / Decimal("140.25")).quantize(
        Decimal("1e-10"))
