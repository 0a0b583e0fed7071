"""Which city a bank line is credited to, line by line through a CSV import: references that
overlap, a city named twice or after a false start, case beyond ASCII, and payout markers
that outrank a city's reference."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from twestival.campaigns.models import City
from twestival.ledger import LedgerEntry
from twestival.streams.files.rows import ImportRow

from tests.imports_helpers import run_import, set_bank_references

HEADER = "Date,Amount,Currency,Details,Counterparty\n"


@pytest.fixture
def bank_csv(app, seed, runner):
    # Berlin's reference starts with London's whole one: a line with Berlin's names both.
    set_bank_references(app, london="TW42", berlin="TW-42-B", tokyo="K9")
    result = runner.invoke(args=[
        "mapping", "save", "tw", "plain", "--kind", "bank", "--date", "Date",
        "--amount", "Amount", "--currency", "Currency", "--reference", "Details",
        "--donor", "Counterparty"])
    assert result.exit_code == 0, result.output


def import_lines(app, session, *lines):
    """Import (details, counterparty, amount) lines; each line's outcome and city slug."""
    body = HEADER + "".join(f"2026-02-12,{amount},GBP,{details},{donor}\n"
                            for details, donor, amount in lines)
    report = run_import(app, None, "csv", mapping="plain", body=body.encode())
    session.expire_all()
    slugs = dict(session.execute(select(City.id, City.slug)).all())
    rows = session.scalars(select(ImportRow).where(ImportRow.payload_id == report.payload_id)
                           .order_by(ImportRow.line)).all()
    found = []
    for row in rows:
        entry = session.scalar(select(LedgerEntry).where(
            LedgerEntry.external_id == row.external_id))
        found.append((row.outcome, slugs.get(entry.city_id) if entry else None))
    return report, found


def test_a_reference_is_found_whatever_comes_before_it(app, session, bank_csv):
    report, found = import_lines(
        app, session,
        ("Twestival tw 0042 thanks", "A", "10.00"),   # "Tw" of Twestival is no reference
        ("tw42 and TW-42 again", "B", "11.00"),        # one city, named twice
        ("gift TW421", "C", "12.00"),                  # not London's TW42
        ("XTW42", "D", "13.00"))
    assert found == [("imported", "london"), ("imported", "london"), ("unassigned", None),
                     ("unassigned", None)]
    assert report.notes == []


def test_overlapping_references_leave_the_line_unassigned_naming_both(app, session, bank_csv):
    report, found = import_lines(
        app, session,
        ("Spende tw 42 b", "A", "10.00"),
        ("TW42 / TW-42-B", "B", "11.00"),
        ("TW-42-BX", "C", "12.00"),                    # Berlin's ends at a letter: London's
        ("TW42 and k-9", "D", "13.00"))                # two cities named in different places
    assert found == [("unassigned", None), ("unassigned", None), ("imported", "london"),
                     ("unassigned", None)]
    assert [str(note).split(":")[0] for note in report.notes] == ["line 2", "line 3", "line 5"]
    for note, cities in zip(map(str, report.notes), (("london", "berlin"), ("london", "berlin"),
                                                     ("london", "tokyo"))):
        assert "names several cities" in note and all(city in note for city in cities)


def test_case_is_ignored_beyond_ascii(app, session, bank_csv):
    # To a case-insensitive match the Kelvin sign is a K and the long s an s, so a letter
    # that may not come before a reference; an accented letter is none of A-Z.
    report, found = import_lines(app, session, ("Spende \u212a-9", "A", "10.00"),
                                 ("k 09", "B", "11.00"), ("K9\u00e9", "C", "12.00"),
                                 ("\u00e9K9", "D", "13.00"), ("\u017fK9", "E", "14.00"))
    assert found == [("imported", "tokyo"), ("imported", "tokyo"), ("imported", "tokyo"),
                     ("imported", "tokyo"), ("unassigned", None)]


def test_payout_markers_outrank_a_city_reference(app, session, bank_csv):
    report, found = import_lines(
        app, session,
        ("TW42 STRIPE", "A", "10.00"),
        ("TW42", "PayPal Europe", "11.00"),
        ("TW42 po_1234567890ab", "C", "12.00"),
        ("TW42 stripes", "D", "13.00"),                # a word that only starts like one
        ("TW42", "E", "-14.00"))
    assert found == [("payout", None), ("payout", None), ("payout", None),
                     ("imported", "london"), ("debit", None)]
    payouts = session.scalars(select(ImportRow.meta).where(ImportRow.outcome == "payout")
                              .order_by(ImportRow.line)).all()
    assert [meta["payout"] for meta in payouts] == ["stripe", "paypal", "po_1234567890ab"]


def test_payout_markers_in_text_beyond_ascii(app, session, bank_csv):
    # The long s is an s to a case-insensitive match.
    report, found = import_lines(
        app, session,
        ("Auszahlung STRIPE \u2013 Februar TW42", "A", "10.00"),
        ("\u017ftripe TW42", "B", "11.00"),
        ("TW42 gr\u00fc\u00dfe", "PAYPAL \u00e9", "12.00"),
        ("TW42 gr\u00fc\u00dfe", "Zahlung \u2013 Mai", "13.00"))
    assert found == [("payout", None), ("payout", None), ("payout", None),
                     ("imported", "london")]


def test_references_of_other_shapes(app, session, bank_csv):
    # Starting with digits, a single run of letters, three runs.
    set_bank_references(app, london="0042", berlin="BER", tokyo="TW-9-JP")
    report, found = import_lines(
        app, session,
        ("Spende 42 danke", "A", "10.00"), ("x0042", "B", "11.00"), ("1042", "C", "12.00"),
        ("ber", "D", "13.00"), ("Berlin", "E", "14.00"), ("TW 9 jp", "F", "15.00"),
        ("TW-9-J", "G", "16.00"), ("0042 BER", "H", "17.00"))
    assert found == [("imported", "london"), ("imported", "london"), ("unassigned", None),
                     ("imported", "berlin"), ("unassigned", None), ("imported", "tokyo"),
                     ("unassigned", None), ("unassigned", None)]
    assert [str(note).split(":")[0] for note in report.notes] == ["line 9"]
