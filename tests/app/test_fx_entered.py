"""Rates for currencies the ECB does not publish: entered on the command line or the desk,
used by the ledger (each entry keeps the rate it used), listed with where they came from."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select

from twestival.campaigns.service import add_city, get_campaign
from twestival.extensions import db
from twestival.ledger.models import FxRate, LedgerEntry

from tests.helpers import post_donation

TODAY = dt.datetime.now(dt.timezone.utc).date()


def add_nairobi(app, campaign="tw"):
    with app.app_context():
        add_city(db.session, get_campaign(db.session, campaign), "nairobi", name="Nairobi",
                 country="KE", currency="KES", timezone="Africa/Nairobi", target="100000.00")
        db.session.commit()


def gbp_per_eur(app, on):
    with app.app_context():
        return Decimal(db.session.scalar(
            select(FxRate.per_eur).where(FxRate.currency == "GBP", FxRate.date <= on)
            .order_by(FxRate.date.desc()).limit(1)))


def gbp_day(app, on):
    with app.app_context():
        return db.session.scalar(select(func.max(FxRate.date)).where(
            FxRate.currency == "GBP", FxRate.date <= on))


def entries(app, city_currency="KES"):
    with app.app_context():
        rows = db.session.scalars(select(LedgerEntry).where(LedgerEntry.currency == city_currency)
                                  .order_by(LedgerEntry.id)).all()
        db.session.expunge_all()
        return rows


def test_a_kes_city_takes_gifts_once_a_rate_is_entered(app, client, runner, api_token):
    add_nairobi(app)
    refused = post_donation(client, api_token, city="nairobi", amount="1000.00", currency="KES")
    assert refused.status_code == 422
    assert "no exchange rate for KES" in refused.get_json()["error"]

    result = runner.invoke(args=["fx", "set", "KES", "140.25", "--date", TODAY.isoformat(),
                                 "--source", "Central Bank of Kenya"])
    assert result.exit_code == 0, result.output
    landed = post_donation(client, api_token, city="nairobi", amount="1000.00", currency="KES")
    assert landed.status_code == 201, landed.get_json()

    [entry] = entries(app)
    rate = (gbp_per_eur(app, TODAY) / Decimal("140.25")).quantize(Decimal("1e-10"),
                                                                  ROUND_HALF_EVEN)
    # The older leg dates a cross rate (the ECB's last GBP day, or the KES day if older).
    assert Decimal(entry.fx_rate) == rate and entry.fx_date == min(gbp_day(app, TODAY), TODAY)
    assert entry.reporting_currency == "GBP"
    assert entry.reporting_minor == int((Decimal("1000.00") * rate * 100).to_integral_value(
        ROUND_HALF_EVEN))
    # The city counts in KES itself: no conversion there.
    assert (entry.city_minor, entry.city_fx_rate) == (100000, None)
    board = client.get("/api/v1/campaigns/tw/leaderboard").get_json()
    nairobi = next(r for r in board["cities"] if r["slug"] == "nairobi")
    assert (nairobi["raised_minor"], nairobi["raised_reporting_minor"]) == (
        100000, entry.reporting_minor)


def test_a_new_rate_is_a_new_row_and_entries_keep_the_rate_they_used(app, client, runner,
                                                                     api_token):
    add_nairobi(app)
    yesterday = TODAY - dt.timedelta(days=1)
    assert runner.invoke(args=["fx", "set", "KES", "150", "--date", yesterday.isoformat(),
                               "--source", "CBK"]).exit_code == 0
    post_donation(client, api_token, city="nairobi", amount="500.00", currency="KES")
    again = runner.invoke(args=["fx", "set", "KES", "140.25", "--date", yesterday.isoformat(),
                                "--source", "CBK"])
    assert again.exit_code == 2 and "already has a rate" in again.output
    assert runner.invoke(args=["fx", "set", "KES", "140.25", "--date", TODAY.isoformat(),
                               "--source", "CBK"]).exit_code == 0
    post_donation(client, api_token, city="nairobi", amount="500.00", currency="KES")
    first, second = entries(app)
    gbp = gbp_per_eur(app, TODAY)
    assert Decimal(first.fx_rate) == (gbp / 150).quantize(Decimal("1e-10"), ROUND_HALF_EVEN)
    assert Decimal(second.fx_rate) == (gbp / Decimal("140.25")).quantize(Decimal("1e-10"),
                                                                         ROUND_HALF_EVEN)
    with app.app_context():
        kept = db.session.scalars(select(FxRate.per_eur).where(FxRate.currency == "KES")
                                  .order_by(FxRate.date)).all()
    assert kept == ["150", "140.25"]


def test_fx_set_refuses_what_is_not_an_exact_positive_rate(app, runner, seed):
    day = ["--date", TODAY.isoformat(), "--source", "CBK"]
    for args, reason in [
            (["KES", "1e3"], "not a decimal number"), (["KES", "0"], "more than zero"),
            (["KES", "0.000"], "more than zero"), (["KES", "14,25"], "not a decimal number"),
            (["KES", "1.00000000001"], "more than 10 decimal places"),
            (["KES", "NaN"], "not a decimal number"), (["KQQ", "1"], "unknown currency"),
            (["kes1", "1"], "three-letter"), (["GBP", "0.85"], "come from the ECB"),
            (["EUR", "1"], "come from the ECB"), (["DEM", "2"], "come from the ECB")]:
        result = runner.invoke(args=["fx", "set", *args, *day])
        assert result.exit_code == 2 and reason in result.output, (args, result.output)
    blank = runner.invoke(args=["fx", "set", "KES", "140", "--date", TODAY.isoformat(),
                                "--source", "  "])
    assert blank.exit_code == 2 and "where the rate comes from" in blank.output
    bad_day = runner.invoke(args=["fx", "set", "KES", "140", "--date", "5/12/2026",
                                  "--source", "CBK"])
    assert bad_day.exit_code == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(FxRate)
                                 .where(FxRate.source == "entered")) == 0


def test_fx_list_names_every_rate_in_use_and_where_it_came_from(app, runner, seed):
    add_nairobi(app)
    with app.app_context():
        add_city(db.session, get_campaign(db.session, "tw"), "lagos", name="Lagos",
                 country="NG", currency="NGN", timezone="Africa/Lagos", target="1000000.00")
        db.session.commit()
    runner.invoke(args=["fx", "set", "KES", "140.25", "--date", TODAY.isoformat(),
                        "--source", "Central Bank of Kenya"])
    listing = runner.invoke(args=["fx", "list"]).output
    lines = {line.split()[0]: line for line in listing.splitlines() if line[:3].isalpha() and line[:3].isupper()}
    assert "ECB reference rate" in lines["GBP"] and "ECB reference rate" in lines["JPY"]
    assert "the euro itself" in lines["EUR"]
    assert "140.25" in lines["KES"] and "entered: Central Bank of Kenya" in lines["KES"]
    assert "by command line" in lines["KES"]
    assert "NO RATE" in lines["NGN"]
    history = listing.split("entered rates")[1]
    assert "KES" in history and "Central Bank of Kenya" in history
