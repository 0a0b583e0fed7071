"""Ticket-sale imports (Eventbrite, mapped CSV), the import CLI and replay."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from twestival.ledger import CityTotal, EntryKind, LedgerEntry
from twestival.streams.inbox.archive import InboundPayload, archive, mark
from twestival.streams.files.rows import ImportRow, MalformedFile

from tests.helpers import post_donation
from tests.imports_helpers import FIXTURES, ledger_count, run_import, set_bank_references

EVENTBRITE = FIXTURES / "ticketing/eventbrite"


def london_total(session):
    from twestival.campaigns.models import City
    return session.scalar(select(CityTotal).join(City, City.id == CityTotal.city_id)
                          .where(City.slug == "london"))


def test_eventbrite_groups_attendees_into_orders(app, session, seed):
    report = run_import(app, EVENTBRITE / "paid_orders.csv", "eventbrite", city="london")
    assert (report.rows, report.imported, report.skipped, report.duplicates) == (4, 3, 1, 0)
    orders = {e.external_id: e for e in session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == EntryKind.donation))}
    assert set(orders) == {"eventbrite:5001", "eventbrite:5002", "eventbrite:5003"}
    two = orders["eventbrite:5001"]
    assert (two.amount_minor, two.currency, two.fee_minor) == (50_00, "GBP", 2 * (149 + 73))
    assert two.meta["attendees"] == 2 and two.anonymous
    assert orders["eventbrite:5002"].amount_minor == 1000_00
    refund = session.scalar(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.refund))
    assert refund.amount_minor == -25_00 and refund.reverses_id == orders["eventbrite:5003"].id
    total = london_total(session)
    assert total.raised_minor == 50_00 + 1000_00 + 50_00 - 25_00 and total.donations == 3
    rows = session.scalars(select(ImportRow).where(ImportRow.payload_id == report.payload_id)).all()
    assert sorted(r.external_id for r in rows) == sorted(orders)
    assert "Ada,Lovelace" in next(r.body for r in rows if r.external_id == "eventbrite:5001")


def test_eventbrite_reimport_adds_nothing(app, session, seed):
    run_import(app, EVENTBRITE / "paid_orders.csv", "eventbrite", city="london")
    session.expire_all()
    before = (ledger_count(session), london_total(session).raised_minor)
    again = run_import(app, EVENTBRITE / "paid_orders.csv", "eventbrite", city="london")
    assert (again.imported, again.duplicates) == (0, 3)
    session.expire_all()
    assert (ledger_count(session), london_total(session).raised_minor) == before


def test_eventbrite_free_orders_count_nothing(app, session, seed):
    report = run_import(app, EVENTBRITE / "eb2ez_attendee_report_sample.csv", "eventbrite")
    assert (report.imported, report.unmatched, report.skipped) == (0, 0, 3)
    assert ledger_count(session) == 0


def test_eventbrite_without_a_city_waits_in_the_unassigned_queue(app, session, seed):
    report = run_import(app, EVENTBRITE / "paid_orders.csv", "eventbrite")
    assert report.unmatched == 3 and report.imported == 0
    assert all(e.city_id is None for e in session.scalars(select(LedgerEntry)))


def test_eventbrite_malformed_rows_refuse_the_file_with_line_numbers(app, session, seed):
    with pytest.raises(MalformedFile) as caught:
        run_import(app, EVENTBRITE / "malformed_amount.csv", "eventbrite", city="london")
    assert "line 3: amount 'twenty' is not a number" in caught.value.message
    assert "line 5:" in caught.value.message
    session.expire_all()
    assert ledger_count(session) == 0 and london_total(session).raised_minor == 0


def test_a_bank_statement_is_not_an_eventbrite_export(app, session, seed):
    with pytest.raises(MalformedFile, match="not an Eventbrite"):
        run_import(app, FIXTURES / "bank/derived/bank_statement.csv", "eventbrite")


def test_ticketing_csv_through_a_mapping(app, session, seed, tmp_path, runner):
    result = runner.invoke(args=["mapping", "save", "tw", "tito", "--date", "Paid at",
                                 "--amount", "Total", "--default-currency", "GBP",
                                 "--external-id", "Reference", "--donor", "Name",
                                 "--date-format", "%d/%m/%Y %H:%M"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "tito.csv"
    path.write_text("Reference,Paid at,Name,Total\nA-1,12/02/2026 19:00,Sam,15.00\n"
                    "A-2,12/02/2026 19:05,Kim,\"1,015.50\"\n")
    report = run_import(app, path, "csv", city="london", mapping="tito")
    assert report.imported == 2
    assert london_total(session).raised_minor == 15_00 + 1015_50
    listed = runner.invoke(args=["mapping", "list", "tw"])
    assert "tito\tticketing" in listed.output


# --- CLI -------------------------------------------------------------------------------------

def test_cli_import_prints_the_report(app, seed, runner):
    result = runner.invoke(args=["import", "tw", str(EVENTBRITE / "paid_orders.csv"),
                                 "--format", "eventbrite", "--city", "london"])
    assert result.exit_code == 0, result.output
    assert "imported: 3" in result.output and "duplicates skipped: 0" in result.output
    again = runner.invoke(args=["import", "tw", str(EVENTBRITE / "paid_orders.csv"),
                                "--format", "eventbrite", "--city", "london"])
    assert "imported: 0" in again.output and "duplicates skipped: 3" in again.output


def test_cli_refuses_a_malformed_file_and_writes_nothing(app, session, seed, runner):
    path = FIXTURES / "bank/ofx/ofxparse/fail_nice/decimal_error.ofx"
    result = runner.invoke(args=["import", "tw", str(path), "--format", "ofx"])
    assert result.exit_code == 2
    assert "Invalid Transaction Amount" in result.stderr
    assert ledger_count(session) == 0


@pytest.mark.parametrize("args, message", [
    (["--format", "csv"], "needs --mapping"),
    (["--format", "csv", "--mapping", "nope"], "no CSV mapping 'nope'"),
    (["--format", "eventbrite", "--city", "atlantis"], "no city 'atlantis'"),
])
def test_cli_bad_options_exit_non_zero(app, seed, runner, args, message):
    result = runner.invoke(args=["import", "tw", str(EVENTBRITE / "paid_orders.csv"), *args])
    assert result.exit_code == 2 and message in result.stderr


def test_cli_unknown_format_is_a_usage_error(app, seed, runner):
    result = runner.invoke(args=["import", "tw", str(EVENTBRITE / "paid_orders.csv"),
                                 "--format", "xls"])
    assert result.exit_code == 2


# --- replay ----------------------------------------------------------------------------------

def test_replay_after_a_failed_processing_counts_once(app, session, seed, runner):
    set_bank_references(app, london="TW42", berlin="TW-0007")
    from twestival.campaigns.service import get_campaign
    camp = get_campaign(session, "tw")
    body = (FIXTURES / "bank/derived/city_credits.camt053.xml").read_bytes()
    # As if the process had died after archiving: the file is kept, nothing was recorded.
    # Its bytes are in the payload's body, as files were kept before pieces: still read.
    payload = archive(session, "bank", body, external_id="sha256:x", campaign_id=camp.id,
                      meta={"format": "camt053", "filename": "statement.xml"})
    mark(payload, "failed", "worker crashed")
    session.commit()
    result = runner.invoke(args=["replay", "tw", "--stream", "bank"])
    assert result.exit_code == 0, result.output
    assert "payloads replayed: 1" in result.output and "new ledger entries: 4" in result.output
    session.expire_all()
    assert session.get(InboundPayload, payload.id).status == "processed"
    assert london_total(session).raised_minor == 120_00 + 80_00
    again = runner.invoke(args=["replay", "tw"])
    assert "new ledger entries: 0" in again.output
    session.expire_all()
    assert london_total(session).raised_minor == 200_00


def test_replay_re_runs_api_payloads_idempotently(app, session, seed, api_token, runner):
    assert post_donation(app.test_client(), api_token, amount="12.50").status_code == 201
    result = runner.invoke(args=["replay", "tw", "--stream", "api",
                                 "--since", "2000-01-01T00:00:00+00:00"])
    assert result.exit_code == 0, result.output
    assert "api: 1" in result.output and "new ledger entries: 0" in result.output
    assert london_total(session).raised_minor == 12_50


def test_replay_of_an_unknown_stream_is_refused(app, seed, runner):
    result = runner.invoke(args=["replay", "tw", "--stream", "carrier-pigeon"])
    assert result.exit_code == 2 and "no processor" in result.stderr


def test_replay_reports_a_refused_file_without_failing(app, session, seed, runner):
    with pytest.raises(MalformedFile):
        run_import(app, FIXTURES / "bank/mt940/self-provided/invalid_statement.sta", "mt940")
    result = runner.invoke(args=["replay", "tw"])
    assert result.exit_code == 0, result.output
    assert "refused (bad input, unchanged): 1" in result.output
    assert "not an MT940 statement" in result.stderr
    assert ledger_count(session) == 0
