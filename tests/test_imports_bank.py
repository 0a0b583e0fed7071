"""Bank statements: every CAMT.053, MT940 and OFX sample through the import path."""
from __future__ import annotations

import json
from collections import Counter
import re
from decimal import Decimal

import pytest
import yaml
from sqlalchemy import func, select

from twestival.errors import DomainError
from twestival.ledger import CityTotal, EntryKind, LedgerEntry, NewEntry, UnassignedTotal, record
from twestival.money import Money
from twestival.streams.archive import InboundPayload
from twestival.streams.importing import ImportRow, MalformedFile

from .imports_helpers import FIXTURES, ledger_count, run_import, set_bank_references

BANK = FIXTURES / "bank"
CAMT_BAD = {"genkgo/camt053.v2.wrong.xml", "camt_parser/valid_namespace.xml"}
CAMT_GOOD = sorted(str(p.relative_to(BANK / "camt053")) for p in (BANK / "camt053").glob("*/*.xml")
                   if str(p.relative_to(BANK / "camt053")) not in CAMT_BAD)
# Refused: not a statement, damaged tag order, a statement line the parser cannot read, or
# fragments without an opening balance (:60F:), which therefore name no currency.
MT940_BAD = {"self-provided/invalid_statement.sta", "self-provided/empty_non_swift.sta",
             "betterplace/sepa_snippet_broken.sta", "ASNB/mt940.txt",
             "ASNB/mt940_with_spaces_for_entry_date.txt", "cmxl/statement_line.sta",
             "cmxl/statement_details.sta", "betterplace/empty_entry_date.sta",
             "self-provided/sparkassen.sta"}
# Deutsche Mark statements from before the euro: there is no exchange rate to count them at.
MT940_DEM = {"cmxl/mt940.sta", "self-provided/raphaelm.sta"}
MT940_ALL = sorted(str(p.relative_to(BANK / "mt940")) for p in (BANK / "mt940").glob("*/*")
                   if p.suffix in (".sta", ".txt"))
MT940_GOOD = [name for name in MT940_ALL if name not in MT940_BAD | MT940_DEM]
OFX_BAD = {"fail_nice/date_missing.ofx", "fail_nice/decimal_error.ofx",
           "fail_nice/empty_balance.ofx", "signon_fail.ofx", "ofx-v102-empty-tags.ofx"}
OFX_ALL = sorted(str(p.relative_to(BANK / "ofx/ofxparse"))
                 for p in (BANK / "ofx/ofxparse").rglob("*.ofx"))
OFX_GOOD = [name for name in OFX_ALL if name not in OFX_BAD]


def payload_entries(session, payload_id):
    return list(session.scalars(select(LedgerEntry).where(LedgerEntry.payload_id == payload_id)))


def assert_refused(app, session, path, fmt, needle=None):
    before = ledger_count(session)
    rows_before = session.scalar(select(func.count()).select_from(ImportRow))
    with pytest.raises(MalformedFile) as caught:
        run_import(app, path, fmt)
    assert caught.value.message
    if needle:
        assert needle in caught.value.message
    session.expire_all()
    assert ledger_count(session) == before
    assert session.scalar(select(func.count()).select_from(ImportRow)) == rows_before
    payload = session.scalars(select(InboundPayload).order_by(InboundPayload.id.desc())).first()
    assert payload.status == "rejected" and payload.error == caught.value.message
    assert payload.body == path.read_bytes()


# --- CAMT.053 --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CAMT_GOOD)
def test_camt053_sample_lands_with_its_amounts(app, session, seed, name):
    path = BANK / "camt053" / name
    report = run_import(app, path, "camt053")
    entries = payload_entries(session, report.payload_id)
    # No city has a bank reference yet: every credit waits in the unassigned queue.
    assert all(e.city_id is None and e.kind is EntryKind.donation for e in entries)
    assert report.unmatched == len(entries) and report.imported == 0
    assert report.rows == report.unmatched + report.debits + report.payouts + report.skipped
    expected = path.with_suffix(".json")
    if expected.exists():
        data = json.loads(expected.read_text())
        # genkgo's dump lists the last statement's entries at the top, each statement's in
        # its record (or marks the record __RECURSIVITY__ when it is the same object).
        listed = [e for record in data["getRecords"] if isinstance(record, dict)
                  for e in record["getEntries"]] or data["getEntries"]
        credits = [e for e in listed if e["getCreditDebitIndicator"] == "CRDT"]
        want = Counter((abs(int(e["getAmount"]["getAmount"])),
                        e["getAmount"]["getCurrency"]["getCode"]) for e in credits)
        got = Counter((e.amount_minor, e.currency) for e in entries)
        if len(data["getRecords"]) == 1:
            assert got == want
            assert report.debits == len(listed) - len(credits)
        else:  # the dump holds only the last statement in full
            assert want <= got
    else:
        # Independent count: each booked <Ntry> is at least one row.
        assert report.rows >= len(re.findall(r"<(?:\w+:)?Ntry>", path.read_text()))


@pytest.mark.parametrize("name", sorted(CAMT_BAD))
def test_camt053_malformed_is_refused_and_writes_nothing(app, session, seed, name):
    assert_refused(app, session, BANK / "camt053" / name, "camt053", "no statement")


def test_camt053_entities_are_refused_not_expanded(app, session, seed):
    assert_refused(app, session, BANK / "derived/entity_expansion.camt053.xml", "camt053", "DTD")


def test_not_xml_is_refused(app, session, seed):
    assert_refused(app, session, BANK / "mt940/jejik/ing.sta", "camt053", "not well-formed XML")


# --- MT940 -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MT940_GOOD)
def test_mt940_sample_lands_with_its_amounts(app, session, seed, name):
    path = BANK / "mt940" / name
    report = run_import(app, path, "mt940")
    entries = payload_entries(session, report.payload_id)
    expected_yml = path.with_suffix(".yml")
    if expected_yml.exists():
        # The YAML is wolph/mt940's own dump of the parse it expects (trusted test data).
        expected = yaml.unsafe_load(expected_yml.read_text())
        amounts = [t.data["amount"].amount for t in expected.transactions if "amount" in t.data]
        assert report.rows == len(amounts)
        counted = sorted(Money(e.amount_minor, e.currency).decimal for e in entries)
        payout_rows = session.scalars(select(ImportRow).where(
            ImportRow.payload_id == report.payload_id, ImportRow.outcome == "payout")).all()
        credits = sorted(a for a in amounts if a > 0)
        assert len(counted) == len(credits) - len(payout_rows) - report.skipped
        if not payout_rows and not report.skipped:
            assert counted == [Decimal(a) for a in credits]
        assert report.debits == len([a for a in amounts if a < 0])
    assert sum(e.amount_minor for e in entries) == sum(report.imported_by_currency.values())


@pytest.mark.parametrize("name", sorted(MT940_BAD))
def test_mt940_malformed_is_refused_and_writes_nothing(app, session, seed, name):
    assert_refused(app, session, BANK / "mt940" / name, "mt940")


@pytest.mark.parametrize("name", sorted(MT940_DEM))
def test_mt940_in_a_currency_without_rates_is_refused(app, session, seed, name):
    before = ledger_count(session)
    with pytest.raises(DomainError, match="no exchange rate for DEM"):
        run_import(app, BANK / "mt940" / name, "mt940")
    session.expire_all()
    assert ledger_count(session) == before


def test_mt940_broken_snippet_names_the_line(app, session, seed):
    assert_refused(app, session, BANK / "mt940/betterplace/sepa_snippet_broken.sta", "mt940",
                   "line 6: :25: inside the transactions")


# --- OFX -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", OFX_GOOD)
def test_ofx_sample_lands_with_its_amounts(app, session, seed, name):
    path = BANK / "ofx/ofxparse" / name
    text = path.read_text(errors="replace")
    report = run_import(app, path, "ofx")
    entries = payload_entries(session, report.payload_id)
    if "INVSTMTRS" in text:
        assert entries == [] and any("investment" in n for n in report.notes)
        return
    amounts = [Decimal(a.strip()) for a in re.findall(r"<TRNAMT>([^<\r\n]+)", text)]
    assert report.rows == len(amounts)
    assert sorted(Money(e.amount_minor, e.currency).decimal for e in entries) == \
        sorted(a for a in amounts if a > 0)
    assert report.debits == len([a for a in amounts if a < 0])


@pytest.mark.parametrize("name", sorted(OFX_BAD))
def test_ofx_malformed_is_refused_and_writes_nothing(app, session, seed, name):
    assert_refused(app, session, BANK / "ofx/ofxparse" / name, "ofx")


# --- matching, payouts, debits, cash, overlap -------------------------------------------------

@pytest.fixture
def refs(app, seed):
    set_bank_references(app, london="TW42", berlin="TW-0007", tokyo="TW-9")


def city_raised(session, slug):
    from twestival.campaigns.models import City
    return session.scalar(select(CityTotal.raised_minor).join(City, City.id == CityTotal.city_id)
                          .where(City.slug == slug))


def test_credits_are_matched_to_cities_and_the_rest_is_reported(app, session, refs):
    path = BANK / "derived/city_credits.camt053.xml"
    report = run_import(app, path, "camt053")
    assert (report.imported, report.unmatched, report.payouts, report.debits) == (3, 1, 1, 1)
    assert city_raised(session, "london") == 120_00 + 80_00
    # Berlin counts in euros; the bank credit was in pounds, converted at the recorded rate.
    berlin = session.scalar(select(LedgerEntry).where(LedgerEntry.note.like("%Berlin%")))
    assert berlin.amount_minor == 30_00 and berlin.currency == "GBP" and berlin.city_fx_rate
    unassigned = session.scalar(select(UnassignedTotal.amount_minor))
    assert unassigned == 15_00  # "TW-421" is not London's TW42
    payout = session.scalar(select(ImportRow).where(ImportRow.outcome == "payout"))
    assert payout.meta["payout"] == "stripe"
    assert session.scalar(select(LedgerEntry).where(
        LedgerEntry.external_id == payout.external_id)) is None


def test_bank_credit_confirms_provisional_cash_instead_of_counting_it_twice(app, session, refs):
    from twestival.campaigns.service import get_campaign, get_city
    camp = get_campaign(session, "tw")
    london = get_city(session, camp, "london")
    cash = record(session, NewEntry(campaign_id=camp.id, city_id=london.id, stream="cash",
                                    external_id="cash-1", amount=Money(80_00, "GBP"),
                                    provisional=True)).entry
    session.commit()
    report = run_import(app, BANK / "derived/city_credits.camt053.xml", "camt053")
    assert report.confirmed == 1 and report.imported == 2
    session.expire_all()
    total = session.get(CityTotal, london.id)
    assert total.raised_minor == 120_00 + 80_00 and total.provisional_minor == 0
    again = run_import(app, BANK / "derived/city_credits.camt053.xml", "camt053")
    assert again.imported == 0 and again.confirmed == 0 and again.duplicates == 4
    session.expire_all()
    assert session.get(CityTotal, london.id).raised_minor == 200_00
    assert cash.id


def test_reimporting_an_overlapping_statement_adds_nothing_twice(app, session, refs):
    path = BANK / "derived/city_credits.camt053.xml"
    run_import(app, path, "camt053")
    session.expire_all()
    before = ledger_count(session)
    london_before = city_raised(session, "london")
    text = path.read_text()
    first_entry = text.index("<Ntry>")
    end_first = text.index("</Ntry>") + len("</Ntry>")
    new_entry = text[first_entry:end_first].replace("BANK-0001", "BANK-0100").replace(
        "120.00", "5.00").replace("2026-02-12", "2026-02-14")
    # The next day's statement repeats all but the first booking and adds one new one.
    overlapping = text[:first_entry] + text[end_first:].replace(
        "</Stmt>", new_entry + "</Stmt>")
    report = run_import(app, None, "camt053", body=overlapping.encode())
    assert report.imported == 1 and report.duplicates == 3
    session.expire_all()
    assert ledger_count(session) == before + 1
    assert city_raised(session, "london") == london_before + 5_00


def test_bank_csv_through_a_mapping(app, session, refs, runner):
    result = runner.invoke(args=[
        "mapping", "save", "tw", "sparkasse", "--kind", "bank", "--date", "Booking date",
        "--amount", "Amount", "--currency", "Currency", "--reference", "Details",
        "--donor", "Counterparty", "--date-format", "%d.%m.%Y", "--decimal", ",",
        "--delimiter", ";"])
    assert result.exit_code == 0, result.output
    report = run_import(app, BANK / "derived/bank_statement.csv", "csv", mapping="sparkasse")
    assert (report.imported, report.unmatched, report.debits, report.payouts) == (1, 2, 1, 1)
    assert city_raised(session, "berlin") == 1250_00
    # Two identical rows are two gifts; a re-import is none.
    again = run_import(app, BANK / "derived/bank_statement.csv", "csv", mapping="sparkasse")
    assert again.imported == 0 and again.unmatched == 0 and again.duplicates == 3


@pytest.mark.parametrize("text, city", [
    ("tw42", "london"), ("Spende TW 0042 danke", "london"), ("TW-042", "london"),
    ("tw/42.", "london"), ("TW421", None), ("XTW42", None), ("tw-7 berlin", "berlin"),
    ("TW9", "tokyo"), ("TW90", None), ("", None)])
def test_reference_matching_is_tolerant_but_not_loose(app, session, refs, text, city):
    from twestival.campaigns.models import City
    from twestival.streams.bank.matching import Matcher
    matcher = Matcher(list(session.scalars(select(City))))
    found = [c.slug for c in matcher.cities(text)]
    assert found == ([city] if city else [])


def test_a_refused_import_leaves_totals_alone(app, session, refs):
    run_import(app, BANK / "derived/city_credits.camt053.xml", "camt053")
    session.expire_all()
    before = (ledger_count(session), city_raised(session, "london"))
    with pytest.raises(DomainError):
        run_import(app, BANK / "ofx/ofxparse/fail_nice/decimal_error.ofx", "ofx")
    session.expire_all()
    assert (ledger_count(session), city_raised(session, "london")) == before
