"""The donate form's money: presets per currency, amounts typed as the donor's locale writes
them, and covering the fees, all exact."""
from __future__ import annotations

import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.app.test_giving_sandbox import entries, pay, sandbox_app
from twestival.campaigns.service import get_campaign
from twestival.extensions import db
from twestival.giving.amounts import (
    DEFAULT_FEE_RULES,
    AmountError,
    FeeRule,
    fee_rule,
    gross_up,
    parse_typed,
    presets,
)
from twestival.ledger.statement import statement
from twestival.money import Money


@pytest.mark.parametrize("text,locale,currency,minor", [
    ("10,50", "de", "GBP", 1050), ("1.000,50", "de", "GBP", 100050), ("1000,5", "de", "EUR", 100050),
    ("10.50", "en", "GBP", 1050), ("1,000.50", "en", "GBP", 100050), (" 25 ", "en", "GBP", 2500),
    ("3.000", "de", "JPY", 3000), ("3,000", "en", "JPY", 3000), ("1,250", "de", "KWD", 1250),
    ("1.234,567", "de", "KWD", 1234567), ("10.500", "en", "GBP", 1050),
])
def test_typed_amounts_are_read_as_the_locale_writes_them(text, locale, currency, minor):
    assert parse_typed(text, currency, locale) == Money(minor, currency)


@pytest.mark.parametrize("text,locale,currency,code", [
    ("1.2.3", "de", "GBP", "format"), ("1.2.3", "en", "GBP", "format"),
    ("10,555", "de", "GBP", "places"), ("10.555", "en", "GBP", "places"),
    ("1,5", "de", "JPY", "places"), ("1,0000", "en", "GBP", "format"), ("10,50", "en", "GBP", "format"),
    ("1e3", "en", "GBP", "format"), ("-5", "en", "GBP", "format"), ("", "en", "GBP", "empty"),
    ("0", "en", "GBP", "format"), ("NaN", "en", "GBP", "format"), ("1.000.000,5.5", "de", "EUR", "format"),
])
def test_ambiguous_or_inexact_amounts_are_refused(text, locale, currency, code):
    with pytest.raises(AmountError) as refused:
        parse_typed(text, currency, locale)
    assert refused.value.code == code


@given(st.integers(min_value=1, max_value=10**9), st.sampled_from(["en", "de"]),
       st.sampled_from(["GBP", "JPY", "KWD"]))
def test_any_amount_written_by_babel_reads_back_exactly(minor, locale, currency):
    from twestival.money import format_money
    written = format_money(Money(minor, currency), locale)
    number = re.sub(r"[^\d.,]", "", written)
    assert parse_typed(number, currency, locale) == Money(minor, currency)


def test_presets_make_sense_in_each_currency():
    assert [p.minor for p in presets("JPY")] == [1000, 3000, 10000]
    assert [p.minor for p in presets("GBP")] == [1000, 2500, 5000]
    assert [p.minor for p in presets("KWD")] == [5000, 10000, 20000]
    assert [p.minor for p in presets("IDR")] == [10000000, 25000000, 50000000]  # magnitude rule
    assert [p.minor for p in presets("XOF")] == [10, 25, 50]


@pytest.mark.parametrize("currency,chosen,gross", [
    ("GBP", 1000, 1036),       # 1.5% of 10.36 is 0.1554 -> 0.16, + 0.20 = 0.36
    ("GBP", 1250, 1290),
    ("JPY", 3000, 3113),       # 3.6% of 3113 is 112.07 -> 113
    ("JPY", 1000, 1038),
    ("KWD", 10000, 10402),     # 2.9% of 10.402 is 0.301658 -> 0.302, + 0.100 = 0.402
])
def test_covering_the_fees_grosses_up_exactly(currency, chosen, gross):
    rule = fee_rule(DEFAULT_FEE_RULES, "stripe", currency)
    charged = gross_up(Money(chosen, currency), rule)
    assert charged == Money(gross, currency)
    assert charged.minor - rule.fee(charged.minor) == chosen
    assert (charged.minor - 1) - rule.fee(charged.minor - 1) < chosen   # the least that does


@given(st.integers(min_value=1, max_value=10**10),
       st.fractions(min_value=0, max_value=Fraction(1, 5)).filter(lambda f: f.denominator < 10**4),
       st.integers(min_value=0, max_value=500))
def test_gross_up_is_the_least_charge_that_leaves_the_gift(chosen, percent, fixed):
    rule = FeeRule(percent, Money(fixed, "GBP"))
    gross = gross_up(Money(chosen, "GBP"), rule).minor
    assert gross - rule.fee(gross) >= chosen
    assert (gross - 1) - rule.fee(gross - 1) < chosen


def test_a_configured_rule_is_used_and_a_bad_one_refused():
    assert fee_rule({"stripe": {"*": "2% + 0.05"}}, "stripe", "EUR") == FeeRule(Fraction(1, 50),
                                                                              Money(5, "EUR"))
    assert fee_rule({"stripe": {"*": "2%"}}, "paypal", "EUR") is None
    with pytest.raises(Exception, match="not like"):
        fee_rule({"stripe": {"*": "two percent"}}, "stripe", "EUR")


# --- through the form ------------------------------------------------------------------------

@pytest.fixture
def app(database_url):
    yield from sandbox_app(database_url)


def _give(client, city, headers=None, **data):
    page = client.get(f"/c/tw/{city}/donate", headers=headers or {}).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', page))
    return page, client.post(f"/c/tw/{city}/donate", data={**fields, **data},
                             headers=headers or {})


def test_the_form_offers_presets_in_the_citys_currency(app):
    page, _r = _give(app.test_client(), "tokyo")
    assert [b for b in re.findall(r'name="preset" value="(\d+)"', page)] == ["1000", "3000", "10000"]
    assert ">¥3,000<" in page and "3.6%" in page


def test_german_amounts_through_the_form_and_the_fee_on_the_statement(app):
    client = app.test_client()
    _page, response = _give(client, "london", headers={"Accept-Language": "de"},
                            amount="1.000,50", cover_fees="on")
    assert response.status_code == 303
    assert pay(client, response.headers["Location"]).status_code == 303
    [entry] = entries(app)
    # 1,000.50 grossed up by 1.5% + 0.20: 1,015.94 charged (1.5% of it is 15.24 -> 15.24 + 0.20).
    assert entry.amount_minor == 101594 and entry.meta["fee_covered_minor"] == 1544
    with app.app_context():
        [row] = statement(db.session, get_campaign(db.session, "tw"))
        assert (row.gross, row.fees_covered, row.test_mode) == (101594, 1544, 1)


def test_a_yen_gift_with_the_fees_covered(app):
    client = app.test_client()
    _page, response = _give(client, "tokyo", preset="3000", cover_fees="on")
    pay(client, response.headers["Location"])
    [entry] = entries(app)
    assert (entry.amount_minor, entry.currency, entry.meta["fee_covered_minor"]) == (3113, "JPY", 113)
