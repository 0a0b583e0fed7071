"""The ledger through its public API, on a real SQLite database."""
import datetime as dt
import threading
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from twestival.campaigns.service import get_campaign, get_city
from twestival.errors import Conflict, InvalidInput
from twestival.ledger import (CityTotal, EntryKind, LedgerEntry, NewEntry, assign, confirm,
                              reconcile, record, reverse)
from twestival.ledger.fx import FxError
from twestival.money import Money


@pytest.fixture
def ctx(session, seed):
    campaign = get_campaign(session, seed)
    cities = {c: get_city(session, campaign, c) for c in ("london", "tokyo", "berlin")}
    return campaign, cities


def gift(campaign, city, ext, minor, currency, **kw):
    return NewEntry(campaign_id=campaign.id, city_id=city.id if city else None, stream="test",
                    external_id=ext, amount=Money(minor, currency), **kw)


def total(session, city):
    return session.get(CityTotal, city.id)


def test_record_moves_totals_and_records_rates(session, ctx):
    campaign, cities = ctx
    result = record(session, gift(campaign, cities["tokyo"], "a", 10000, "JPY",
                                     occurred_at=dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)))
    session.commit()
    entry = result.entry
    assert result.created
    assert (entry.amount_minor, entry.currency, entry.city_minor) == (10000, "JPY", 10000)
    assert entry.city_fx_rate is None              # same currency: no conversion
    # 2024-05-01 was a TARGET holiday: the last rate on or before is 2024-04-30,
    # JPY 168.27 and GBP 0.85478 per euro.
    assert entry.fx_date == dt.date(2024, 4, 30)
    assert Decimal(entry.fx_rate) == Decimal("0.0050798122")   # 0.85478 / 168.27
    assert entry.reporting_minor == 5080                       # £50.798122 → £50.80
    row = total(session, cities["tokyo"])
    assert (row.raised_minor, row.raised_reporting_minor, row.donations) == (10000, 5080, 1)


def test_same_external_id_twice_makes_one_entry(session, ctx):
    campaign, cities = ctx
    first = record(session, gift(campaign, cities["london"], "dup", 500, "GBP"))
    again = record(session, gift(campaign, cities["london"], "dup", 500, "GBP"))
    session.commit()
    assert first.created and not again.created
    assert again.entry.id == first.entry.id
    assert total(session, cities["london"]).raised_minor == 500
    assert total(session, cities["london"]).donations == 1


def test_twenty_threads_record_the_same_gift_once(sessions, session, ctx):
    campaign, cities = ctx
    campaign_id, city_id = campaign.id, cities["berlin"].id
    session.rollback()   # hold no transaction (and so no write lock) while the threads race
    barrier = threading.Barrier(20)
    created, errors = [], []

    def worker():
        with sessions() as own:
            try:
                barrier.wait()
                result = record(own, NewEntry(
                    campaign_id=campaign_id, city_id=city_id, stream="test",
                    external_id="race", amount=Money(2500, "EUR")))
                own.commit()
                created.append(result.created)
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(created) == [False] * 19 + [True]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    assert total(session, cities["berlin"]).raised_minor == 2500
    assert reconcile(session, campaign) == []


def test_foreign_currency_gift_converts_to_city_and_reporting(session, ctx):
    campaign, cities = ctx
    entry = record(session, gift(campaign, cities["tokyo"], "usd", 1000, "USD",
                                    occurred_at=dt.datetime(2025, 1, 6, tzinfo=dt.timezone.utc))).entry
    session.commit()
    assert entry.currency == "USD" and entry.amount_minor == 1000   # original kept
    assert entry.city_fx_rate is not None and entry.city_fx_date == dt.date(2025, 1, 6)
    assert entry.city_minor == int((Decimal(10) * Decimal(entry.city_fx_rate)).to_integral_value())
    assert total(session, cities["tokyo"]).raised_minor == entry.city_minor


def test_reversal_nets_to_zero_and_is_idempotent(session, ctx):
    campaign, cities = ctx
    entry = record(session, gift(campaign, cities["tokyo"], "r", 1234, "USD")).entry
    first = reverse(session, entry.id, reason="typed the wrong amount")
    second = reverse(session, entry.id, reason="clicked twice")
    session.commit()
    assert first.created and not second.created
    assert first.entry.kind is EntryKind.reversal and first.entry.reverses_id == entry.id
    assert first.entry.amount_minor == -1234
    assert first.entry.city_minor == -entry.city_minor
    row = total(session, cities["tokyo"])
    assert (row.raised_minor, row.raised_reporting_minor, row.donations) == (0, 0, 0)
    assert reconcile(session, campaign) == []


def test_reversal_needs_a_reason_and_cannot_be_reversed(session, ctx):
    campaign, cities = ctx
    entry = record(session, gift(campaign, cities["london"], "x", 100, "GBP")).entry
    with pytest.raises(InvalidInput):
        reverse(session, entry.id, reason=" ")
    rev = reverse(session, entry.id, reason="oops").entry
    with pytest.raises(Conflict):
        reverse(session, rev.id, reason="undo the undo")


def test_refund_is_negative_and_keeps_the_gift_counted(session, ctx):
    campaign, cities = ctx
    entry = record(session, gift(campaign, cities["london"], "g", 5000, "GBP")).entry
    record(session, gift(campaign, cities["london"], "refund-1", -2000, "GBP",
                            kind=EntryKind.refund, reverses_id=entry.id))
    with pytest.raises(InvalidInput):
        record(session, gift(campaign, cities["london"], "refund-2", 2000, "GBP",
                                kind=EntryKind.refund))
    session.commit()
    row = total(session, cities["london"])
    assert (row.raised_minor, row.donations) == (3000, 1)
    assert reconcile(session, campaign) == []


def test_provisional_then_confirmed(session, ctx):
    campaign, cities = ctx
    entry = record(session, gift(campaign, cities["london"], "cash-1", 4000, "GBP",
                                    provisional=True)).entry
    session.commit()
    assert total(session, cities["london"]).provisional_minor == 4000
    assert confirm(session, entry.id, method="coordinator") is True
    assert confirm(session, entry.id, method="coordinator") is False
    session.commit()
    row = total(session, cities["london"])
    assert (row.raised_minor, row.provisional_minor) == (4000, 0)
    assert reconcile(session, campaign) == []


def test_unassigned_money_and_assignment(session, ctx):
    campaign, cities = ctx
    entry = record(session, gift(campaign, None, "lost", 700, "EUR")).entry
    session.commit()
    assert entry.city_id is None and entry.city_minor is None
    assign(session, entry.id, cities["berlin"].id, by_user_id=None)
    assign(session, entry.id, cities["berlin"].id, by_user_id=None)   # idempotent
    session.commit()
    with pytest.raises(Conflict, match="another city"):
        assign(session, entry.id, cities["london"].id, by_user_id=None)
    session.rollback()
    assert total(session, cities["london"]).raised_minor == 0
    assert total(session, cities["berlin"]).raised_minor == 700
    assert total(session, cities["berlin"]).donations == 1
    assert reconcile(session, campaign) == []


def test_database_refuses_update_and_delete_of_entries(session, ctx):
    campaign, cities = ctx
    entry_id = record(session, gift(campaign, cities["london"], "ro", 100, "GBP")).entry.id
    session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(update(LedgerEntry).where(LedgerEntry.id == entry_id)
                           .values(amount_minor=1))
    session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        session.execute(text("DELETE FROM ledger_entry"))
    session.rollback()
    assert session.get(LedgerEntry, entry_id).amount_minor == 100


def test_reconcile_detects_drift(session, ctx):
    campaign, cities = ctx
    record(session, gift(campaign, cities["london"], "d", 100, "GBP"))
    session.commit()
    session.execute(update(CityTotal).where(CityTotal.city_id == cities["london"].id)
                       .values(raised_minor=999))
    session.commit()
    drifts = reconcile(session, campaign)
    assert [(d.where, d.field, d.stored, d.computed) for d in drifts] == [
        ("city london", "raised_minor", 999, 100)]


def test_currency_without_a_rate_is_a_clear_error(session, ctx):
    campaign, cities = ctx
    with pytest.raises(FxError, match="no exchange rate for KWD"):
        record(session, gift(campaign, cities["london"], "kwd", 1000, "KWD"))
    session.rollback()
    assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


def test_bad_entries_are_refused(session, ctx):
    campaign, cities = ctx
    with pytest.raises(InvalidInput):
        record(session, gift(campaign, cities["london"], "", 100, "GBP"))
    with pytest.raises(InvalidInput):
        record(session, gift(campaign, cities["london"], "neg", -100, "GBP"))
    with pytest.raises(InvalidInput):
        record(session, gift(campaign, cities["london"], "naive", 100, "GBP",
                                occurred_at=dt.datetime(2026, 1, 1)))


def test_ledger_is_importable_without_flask():
    import subprocess
    import sys
    code = ("import sys, twestival.ledger, twestival.money, twestival.streams.inbox.archive;"
            "sys.exit(1 if 'flask' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
