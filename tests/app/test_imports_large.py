"""Imports larger than one committed chunk: exact totals, all-or-nothing refusals, overlapping
re-imports, and the archive of every row."""
from __future__ import annotations

import csv

import pytest
from sqlalchemy import func, select

from twestival.ledger import CityTotal, EntryKind, LedgerEntry, UnassignedTotal
from twestival.streams.files import run as importing
from twestival.streams.inbox import files as filearchive
from twestival.streams.inbox.archive import InboundPayload
from twestival.streams.inbox.files import InboundFilePiece
from twestival.streams.files.rows import ImportRow, MalformedFile

from tests.imports_helpers import ledger_count, run_import, set_bank_references

HEADER = ["Order #", "Order Date", "First Name", "Last Name", "Currency", "Total Paid",
          "Eventbrite Fees", "Eventbrite Payment Processing", "Attendee #", "Attendee Status"]
ROWS = 5_000


def eventbrite_rows(first_order: int, orders: int):
    """Orders of one to three attendees; every 97th attendee refunded."""
    for order in range(first_order, first_order + orders):
        for attendee in range(1 + order % 3):
            number = order * 10 + attendee
            yield [order, f"02/{1 + order % 12:02d}/26 18:{order % 60:02d}", "Ada", f"L{number}",
                   "GBP", f"{10 + number % 40}.50", "1.49", "0.73", number,
                   "Refunded" if number % 97 == 0 else "Attending"]


def write(path, rows, header=HEADER):
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def expected(rows) -> tuple[int, int, int]:
    """(orders, gross minor, refunded minor) of Eventbrite rows."""
    orders = {row[0] for row in rows}
    gross = sum(int(row[5].replace(".", "")) for row in rows)
    refunded = sum(int(row[5].replace(".", "")) for row in rows if row[9] == "Refunded")
    return len(orders), gross, refunded


def london(session):
    from twestival.campaigns.models import City
    session.expire_all()
    return session.scalar(select(CityTotal).join(City, City.id == CityTotal.city_id)
                          .where(City.slug == "london"))


def counts(session):
    return (ledger_count(session),
            session.scalar(select(func.count()).select_from(ImportRow)),
            london(session).raised_minor)


def test_a_file_of_many_chunks_lands_with_exact_totals(app, session, seed, tmp_path):
    rows = list(eventbrite_rows(1, 2_500))[:ROWS]
    assert len(rows) == ROWS > 3 * importing.CHUNK_ROWS
    orders, gross, refunded = expected(rows)
    report = run_import(app, write(tmp_path / "big.csv", rows), "eventbrite", city="london")
    assert (report.imported, report.duplicates) == (orders, 0)
    assert report.refunds == sum(1 for row in rows if row[9] == "Refunded")
    total = london(session)
    assert total.raised_minor == gross - refunded and total.donations == orders
    assert session.scalar(select(func.sum(LedgerEntry.amount_minor))) == gross - refunded
    # Every order's rows are archived verbatim, with what became of them.
    archived = session.scalars(select(ImportRow).where(
        ImportRow.payload_id == report.payload_id)).all()
    assert len(archived) == orders and {r.outcome for r in archived} == {"imported"}
    assert sum(r.body.count("\n") + 1 for r in archived) == ROWS
    payload = session.get(InboundPayload, report.payload_id)
    assert payload.status == "processed"


def test_a_bad_row_near_the_end_of_a_long_file_changes_nothing(app, session, seed, tmp_path):
    run_import(app, write(tmp_path / "first.csv", list(eventbrite_rows(1, 100))), "eventbrite",
               city="london")
    before = counts(session)
    rows = list(eventbrite_rows(1_000, 2_500))[:ROWS]
    rows[-3][5] = "twelve"              # after more than four chunks' worth of good rows
    path = write(tmp_path / "bad.csv", rows)
    with pytest.raises(MalformedFile) as caught:
        run_import(app, path, "eventbrite", city="london")
    assert f"line {ROWS - 1}: amount 'twelve' is not a number" in caught.value.message
    assert counts(session) == before
    refused = session.scalar(select(InboundPayload).order_by(InboundPayload.id.desc()))
    assert refused.status == "rejected" and "twelve" in refused.error


def test_an_order_that_comes_back_after_others_refuses_the_file(app, session, seed, tmp_path):
    rows = list(eventbrite_rows(1, 2_000))
    rows.append(rows[0][:8] + [99_999_999, "Attending"])   # order 1 again, at the very end
    with pytest.raises(MalformedFile) as caught:
        run_import(app, write(tmp_path / "apart.csv", rows), "eventbrite", city="london")
    assert (f"line {len(rows) + 1}: order 1 appears again after other orders"
            in caught.value.message)
    assert ledger_count(session) == 0


def test_an_overlapping_export_adds_only_the_new_orders(app, session, seed, tmp_path):
    first = list(eventbrite_rows(1, 1_500))
    second = list(eventbrite_rows(1_001, 1_500))          # orders 1001-1500 in both
    run_import(app, write(tmp_path / "a.csv", first), "eventbrite", city="london")
    report = run_import(app, write(tmp_path / "b.csv", second), "eventbrite", city="london")
    assert (report.imported, report.duplicates) == (1_000, 500)
    union = first + [r for r in second if r[0] > 1_500]
    orders, gross, refunded = expected(union)
    total = london(session)
    assert total.raised_minor == gross - refunded and total.donations == orders
    assert ledger_count(session) == orders + sum(1 for row in union if row[9] == "Refunded")
    again = run_import(app, write(tmp_path / "c.csv", second), "eventbrite", city="london")
    assert (again.imported, again.refunds) == (0, 0)
    assert london(session).raised_minor == gross - refunded


def test_a_long_bank_csv_matches_cities_and_counts_exactly(app, session, seed, tmp_path, runner):
    set_bank_references(app, london="TW-0001", tokyo="TW-0002")
    result = runner.invoke(args=["mapping", "save", "tw", "bankcsv", "--kind", "bank",
                                 "--date", "Date", "--amount", "Amount", "--currency", "Currency",
                                 "--reference", "Text", "--external-id", "Id"])
    assert result.exit_code == 0, result.output
    rows = []
    for n in range(ROWS):
        if n % 10 == 0:
            rows.append([f"2026-02-{1 + n % 28:02d}", f"-{n % 90 + 1}.00", "GBP", "rent", f"T{n}"])
        else:
            ref = ("TW-0001", "tw 1", "nobody")[n % 3]
            rows.append([f"2026-02-{1 + n % 28:02d}", f"{n % 90 + 1}.25", "GBP",
                         f"gift {ref} {n}", f"T{n}"])
    path = write(tmp_path / "bank.csv", rows, ["Date", "Amount", "Currency", "Text", "Id"])
    result = runner.invoke(args=["import", "tw", str(path), "--format", "csv",
                                 "--mapping", "bankcsv"])
    assert result.exit_code == 0, result.output
    credits = [r for r in rows if not r[1].startswith("-")]
    to_london = sum(int(r[1].replace(".", "")) for r in credits if "nobody" not in r[3])
    waiting = sum(int(r[1].replace(".", "")) for r in credits if "nobody" in r[3])
    assert london(session).raised_minor == to_london
    assert session.scalar(select(UnassignedTotal.amount_minor)) == waiting
    assert f"rows: {ROWS}" in result.output and f"debits reported, not counted: {ROWS // 10}" \
        in result.output
    # The same statement again: nothing new.
    result = runner.invoke(args=["import", "tw", str(path), "--format", "csv",
                                 "--mapping", "bankcsv"])
    assert "imported: 0" in result.output and london(session).raised_minor == to_london
    assert session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.kind == EntryKind.donation)) == len(credits)


def test_a_large_file_is_archived_compressed_and_replays_from_the_archive(
        app, session, seed, tmp_path, runner, monkeypatch):
    import hashlib
    monkeypatch.setattr(filearchive, "COMPRESS_FROM", 64 * 1024)
    monkeypatch.setattr(filearchive, "PIECE", 4 * 1024)
    rows = list(eventbrite_rows(1, 1_000))
    path = write(tmp_path / "big.csv", rows)
    assert path.stat().st_size > filearchive.COMPRESS_FROM
    report = run_import(app, path, "eventbrite", city="london")
    payload = session.get(InboundPayload, report.payload_id)
    assert payload.headers == {"Content-Encoding": "gzip"} and payload.body == b""
    pieces = session.scalars(select(InboundFilePiece.data).where(
        InboundFilePiece.payload_id == payload.id).order_by(InboundFilePiece.seq)).all()
    assert len(pieces) > 1 and all(len(piece) <= 4 * 1024 for piece in pieces)
    assert sum(map(len, pieces)) < path.stat().st_size / 3
    assert importing.archived_file(payload).read() == path.read_bytes()
    assert payload.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    before = counts(session)
    result = runner.invoke(args=["replay", "tw", "--stream", "ticketing"])
    assert result.exit_code == 0 and "new ledger entries: 0" in result.output
    assert counts(session) == before


def test_credits_for_cities_in_other_currencies_convert_as_one_gift_would(
        app, session, seed, tmp_path, runner):
    """A statement longer than a chunk, in two currencies, for cities in others: every entry
    carries its amount converted at its day's rate with that rate and date, as ``record``
    converts one gift, the totals move by exactly those amounts, and an id the file repeats
    is counted once."""
    from twestival.campaigns.models import Campaign, City
    from twestival.ledger import fx
    from twestival.money import Money, convert
    set_bank_references(app, tokyo="TW-0002", berlin="TW-0003")
    result = runner.invoke(args=["mapping", "save", "tw", "fxcsv", "--kind", "bank",
                                 "--date", "Date", "--amount", "Amount", "--currency", "Currency",
                                 "--reference", "Text", "--external-id", "Id"])
    assert result.exit_code == 0, result.output
    rows = [[f"2026-01-{1 + n % 28:02d}", f"{n % 37 + 1}.{n % 100:02d}", ("GBP", "EUR")[n % 2],
             f"gift {('TW-0002', 'tw 3', 'nobody')[n % 3]} {n}", f"T{n}"] for n in range(1_200)]
    rows.append(["2026-01-05", "9.99", "GBP", "gift TW-0002 again", "T3"])   # T3 repeated
    path = write(tmp_path / "fx.csv", rows, ["Date", "Amount", "Currency", "Text", "Id"])
    result = runner.invoke(args=["import", "tw", str(path), "--format", "csv",
                                 "--mapping", "fxcsv"])
    assert result.exit_code == 0, result.output
    assert "duplicates skipped: 1" in result.output
    session.expire_all()
    reporting = session.scalar(select(Campaign.currency).where(Campaign.slug == "tw"))
    cities = {city.id: city for city in session.scalars(select(City))}
    entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.stream == "bank")))
    assert len(entries) == 1_200
    raised: dict[int, int] = {}
    for entry in entries:
        amount, day = Money(entry.amount_minor, entry.currency), entry.occurred_at.date()
        rate = fx.rate_for(session, entry.currency, reporting, day)
        assert (entry.reporting_minor, entry.fx_rate, entry.fx_date) == (
            convert(amount, rate).minor, rate.text, rate.date)
        if entry.city_id is None:
            assert entry.city_minor is None
            continue
        quote = cities[entry.city_id].currency
        if quote == entry.currency:
            assert (entry.city_minor, entry.city_fx_rate) == (entry.amount_minor, None)
        else:
            rate = fx.rate_for(session, entry.currency, quote, day)
            assert (entry.city_minor, entry.city_fx_rate, entry.city_fx_date) == (
                convert(amount, rate).minor, rate.text, rate.date)
        raised[entry.city_id] = raised.get(entry.city_id, 0) + entry.city_minor
    assert {total.city_id: total.raised_minor for total in session.scalars(select(CityTotal))
            if total.raised_minor} == raised
    repeated = session.scalar(select(ImportRow.outcome).where(ImportRow.line == len(rows) + 1))
    assert repeated == "duplicate"


def test_recording_stopped_half_way_keeps_its_chunks_and_a_replay_finishes_it(
        app, session, seed, tmp_path, runner):
    """A failure after the checks (here the database refusing one order's entry, as a full
    disk would) keeps the chunks committed before it, marks the file failed, and replaying
    the archived file records the rest: every order counted once, totals exact."""
    from sqlalchemy import text
    rows = list(eventbrite_rows(1, 2_500))[:ROWS]
    orders, gross, refunded = expected(rows)
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        session.execute(text(
            "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
            "IF NEW.external_id = 'eventbrite:1600' THEN RAISE EXCEPTION 'disk full'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql"))
        session.execute(text("CREATE TRIGGER refuse_one BEFORE INSERT ON ledger_entry "
                             "FOR EACH ROW EXECUTE FUNCTION refuse_one()"))
    else:
        session.execute(text(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON ledger_entry WHEN NEW.external_id = "
            "'eventbrite:1600' BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    session.commit()
    with pytest.raises(importing.PartlyRecorded, match="disk full"):
        run_import(app, write(tmp_path / "big.csv", rows), "eventbrite", city="london")
    session.expire_all()
    kept = session.scalar(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.kind == EntryKind.donation))
    assert importing.CHUNK_ROWS <= kept < 1_600
    assert session.scalar(select(InboundPayload.status)) == "failed"
    assert london(session).donations == kept
    session.execute(text("DROP TRIGGER refuse_one" + (" ON ledger_entry" if postgresql else "")))
    session.commit()
    result = runner.invoke(args=["replay", "tw", "--stream", "ticketing"])
    assert result.exit_code == 0, result.output
    total = london(session)
    assert total.raised_minor == gross - refunded and total.donations == orders
    assert ledger_count(session) == orders + sum(1 for row in rows if row[9] == "Refunded")
    assert session.scalar(select(InboundPayload.status)) == "processed"
