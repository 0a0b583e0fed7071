"""The hash-chained ledger: every entry sealed in order, tampering named by `verify`, the
public digest and chain checkable with a standalone script, INSERT OR REPLACE refused."""
from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from twestival.extensions import db

from tests.helpers import post_donation

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "verify_digest.py"


def _verify(runner, campaign="tw"):
    return runner.invoke(args=["verify", campaign])


def _gifts(client, token, n, **body):
    ids = []
    for i in range(n):
        answer = post_donation(client, token, amount=f"{10 + i}.00", donor_name=f"Donor {i}",
                               message="for the night", **body)
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["id"])
    return ids


def _drop_triggers(raw):
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")


def test_a_clean_ledger_verifies_and_its_digest_is_public(app, client, runner, api_token):
    _gifts(client, api_token, 3)
    _gifts(client, api_token, 1, city="tokyo", currency="JPY")
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    answer = client.get("/c/tw/ledger/digest")
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    digest = answer.get_json()
    assert digest["entries"] == 4 and len(digest["head"]) == 64 and digest["at"]
    assert 'href="/c/tw/ledger/digest"' in client.get("/c/tw").get_data(as_text=True)


def test_the_public_chain_names_no_donor(client, api_token):
    _gifts(client, api_token, 2)
    exported = client.get("/c/tw/ledger/chain.csv").get_data(as_text=True)
    assert "Donor" not in exported and "for the night" not in exported
    assert len(exported.splitlines()) == 3


@pytest.mark.sqlite_only
def test_insert_or_replace_cannot_rewrite_an_entry(app, client, runner, api_token, db_path):
    [entry_id] = _gifts(client, api_token, 1)
    raw = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("INSERT OR REPLACE INTO ledger_entry SELECT * FROM ledger_entry WHERE id = ?",
                    (entry_id,))
    columns = [r[1] for r in raw.execute("PRAGMA table_info(ledger_entry)")]
    values = ", ".join("99999" if c == "amount_minor" else c for c in columns)
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute(f"INSERT OR REPLACE INTO ledger_entry SELECT {values} FROM ledger_entry "
                    f"WHERE id = ?", (entry_id,))
    assert raw.execute("SELECT amount_minor FROM ledger_entry").fetchall() == [(1000,)]
    raw.close()
    assert _verify(runner).exit_code == 0


def test_an_upsert_is_an_update_and_is_refused(app, client, api_token):
    [entry_id] = _gifts(client, api_token, 1)
    with app.app_context():
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text(
                "INSERT INTO ledger_entry (id, campaign_id, stream, external_id, kind, "
                "amount_minor, currency, reporting_minor, reporting_currency, fx_rate, fx_date, "
                "occurred_at, recorded_at, anonymous, provisional) SELECT id, campaign_id, "
                "stream, external_id, kind, amount_minor, currency, reporting_minor, "
                "reporting_currency, fx_rate, fx_date, occurred_at, recorded_at, anonymous, "
                "provisional FROM ledger_entry WHERE id = :id "
                "ON CONFLICT (id) DO UPDATE SET amount_minor = 99999"), {"id": entry_id})
        db.session.rollback()
        assert db.session.execute(text("SELECT amount_minor FROM ledger_entry")).scalar() == 1000


@pytest.mark.sqlite_only
def test_verify_names_an_entry_rewritten_behind_the_apps_back(app, client, runner, api_token,
                                                               db_path):
    ids = _gifts(client, api_token, 3)
    raw = sqlite3.connect(db_path)
    _drop_triggers(raw)       # someone with the file in hand
    columns = [r[1] for r in raw.execute("PRAGMA table_info(ledger_entry)")]
    values = ", ".join("99999" if c in ("amount_minor", "city_minor", "reporting_minor") else c
                       for c in columns)
    raw.execute(f"INSERT OR REPLACE INTO ledger_entry SELECT {values} FROM ledger_entry "
                f"WHERE id = ?", (ids[1],))
    # ... who even moves the total by the difference (11.00 became 999.99), so reconcile
    # alone sees nothing.
    raw.execute("UPDATE city_total SET raised_minor = raised_minor + 98899, "
                "raised_reporting_minor = raised_reporting_minor + 98899 WHERE raised_minor > 0")
    raw.commit()
    raw.close()
    assert runner.invoke(args=["reconcile", "tw"]).exit_code == 0
    result = _verify(runner)
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert f"entry #{ids[1]} " in first and "changed" in first


@pytest.mark.sqlite_only
def test_verify_names_removed_and_slipped_in_entries(app, client, runner, api_token, db_path):
    ids = _gifts(client, api_token, 3)
    raw = sqlite3.connect(db_path)
    _drop_triggers(raw)
    raw.execute("PRAGMA foreign_keys=OFF")
    raw.execute("DELETE FROM ledger_entry WHERE id = ?", (ids[0],))
    columns = [r[1] for r in raw.execute("PRAGMA table_info(ledger_entry)") if r[1] != "id"]
    raw.execute(f"INSERT INTO ledger_entry ({', '.join(columns)}) SELECT "
                + ", ".join("'forged'" if c == "external_id" else c for c in columns)
                + " FROM ledger_entry WHERE id = ?", (ids[2],))
    raw.commit()
    raw.close()
    result = _verify(runner)
    assert result.exit_code == 1
    assert f"entry #{ids[0]} (position 1): removed" in result.output
    assert "not in the chain" in result.output


@pytest.mark.sqlite_only
def test_erasing_a_donor_with_their_salt_keeps_the_chain_green(app, client, runner, api_token,
                                                                db_path):
    """The design GDPR erasure relies on: data and salt gone, the chain still verifies;
    data changed while its salt is kept, and `verify` names it."""
    ids = _gifts(client, api_token, 2)
    raw = sqlite3.connect(db_path)
    _drop_triggers(raw)   # erasure will get its own sanctioned path; the chain is the point here
    raw.execute("UPDATE ledger_entry SET donor_name = NULL, message = NULL WHERE id = ?",
                (ids[0],))
    raw.execute("DELETE FROM ledger_salt WHERE entry_id = ?", (ids[0],))
    raw.commit()
    assert _verify(runner).exit_code == 0
    raw.execute("UPDATE ledger_entry SET donor_name = 'Someone else' WHERE id = ?", (ids[1],))
    raw.commit()
    raw.close()
    result = _verify(runner)
    assert result.exit_code == 1 and f"entry #{ids[1]} " in result.output
    assert "donor data" in result.output


def _script(*paths):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)],
                          capture_output=True, text=True)


def test_the_standalone_script_checks_today_extends_an_old_digest(client, api_token, tmp_path):
    _gifts(client, api_token, 2)
    old = tmp_path / "old.json"
    old.write_text(client.get("/c/tw/ledger/digest").get_data(as_text=True))
    _gifts(client, api_token, 2, city="berlin", currency="EUR")
    post_donation(client, api_token, amount="-5.00")   # refused; nothing to chain
    chain = tmp_path / "chain.csv"
    chain.write_bytes(client.get("/c/tw/ledger/chain.csv").get_data())
    new = tmp_path / "new.json"
    new.write_text(client.get("/c/tw/ledger/digest").get_data(as_text=True))
    checked = _script(old, chain, new)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "VERIFIED" in checked.stdout

    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(dict(json.loads(old.read_text()), head="ab" * 32)))
    assert _script(forged, chain).returncode == 1
    lines = chain.read_text().splitlines()
    cells = lines[2].split(",")
    amount_at = lines[0].split(",").index("amount_minor")
    cells[amount_at] = "99999"
    tampered = tmp_path / "tampered.csv"
    tampered.write_text("\n".join(lines[:2] + [",".join(cells)] + lines[3:]) + "\n")
    refused = _script(old, tampered)
    assert refused.returncode == 1 and "position 2" in refused.stdout


def _writer(url: str, prefix: str, n: int) -> None:
    """One process recording into campaign 'tw', one by one and in batches."""
    from tests.conftest import make_app
    from twestival.campaigns.service import get_campaign
    from twestival.ledger import NewEntry, record
    from twestival.ledger.bulk import record_many
    from twestival.money import Money
    app = make_app(url, SCHEDULER="off")
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        city_id = camp.id and db.session.execute(
            text("SELECT id FROM city WHERE slug = 'london' AND campaign_id = :c"),
            {"c": camp.id}).scalar()
        for i in range(n):
            record(db.session, NewEntry(camp.id, city_id, "test", f"{prefix}-{i}",
                                        Money(100 + i, "GBP"), donor_name="Ann"))
            db.session.commit()
            record_many(db.session, [NewEntry(camp.id, city_id, "test", f"{prefix}-b{i}-{j}",
                                              Money(7, "GBP")) for j in range(3)])
            db.session.commit()
    app.extensions["twestival.live"].stop()


def test_two_processes_writing_at_once_make_one_chain(app, runner, seed, database_url):
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(database_url, name, 25)) for name in "ab"]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    with app.app_context():
        positions = db.session.execute(text(
            "SELECT position FROM ledger_link ORDER BY position")).scalars().all()
    assert positions == list(range(1, 2 * 25 * 4 + 1))


def test_imported_entries_are_chained_and_a_huge_line_refuses_the_file(app, runner, seed,
                                                                       tmp_path):
    from tests.imports_helpers import FIXTURES
    paid = FIXTURES / "ticketing/eventbrite/paid_orders.csv"
    result = runner.invoke(args=["import", "tw", str(paid), "--format", "eventbrite",
                                 "--city", "london"])
    assert result.exit_code == 0, result.output
    assert _verify(runner).exit_code == 0
    lines = paid.read_text().splitlines()
    huge = tmp_path / "huge.csv"
    huge.write_text(lines[0] + "\n7001,02/12/26 18:05,Ada,Lovelace,ada@example.org,1,,VIP,9901,,"
                    "Eventbrite Completed,GBP,99000000000.00,0,0,0,Attending\n")
    refused = runner.invoke(args=["import", "tw", str(huge), "--format", "eventbrite",
                                  "--city", "london"])
    assert refused.exit_code == 2
    assert "line 2: one gift can be at most" in refused.stderr
    assert _verify(runner).exit_code == 0


def test_the_migration_chains_the_entries_already_in_the_ledger(app, client, runner, api_token):
    from flask_migrate import downgrade, upgrade
    _gifts(client, api_token, 3)
    with app.app_context():
        db.session.remove()
        downgrade(revision="0008_file_pieces")
        upgrade()
    result = _verify(runner)
    assert result.exit_code == 0, result.output
    assert client.get("/c/tw/ledger/digest").get_json()["entries"] == 3


def test_the_coordinator_desk_shows_the_digest_to_publish(app, client, api_token):
    from twestival.accounts.models import Role

    from tests.hub_support import login, person
    _gifts(client, api_token, 2)
    head = client.get("/c/tw/ledger/digest").get_json()["head"]
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    page = client.get("/coordinate/tw").get_data(as_text=True)
    assert head in page and "Ledger digest to publish" in page


def test_bank_statements_are_chained(app, runner, seed):
    """Bank lines (the unassigned queue, conversions, the direct path on SQLite) verify."""
    from tests.imports_helpers import FIXTURES
    for path in sorted((FIXTURES / "bank" / "camt053").glob("*/*.xml"))[:4]:
        runner.invoke(args=["import", "tw", str(path), "--format", "camt053"])
    digest = app.test_client().get("/c/tw/ledger/digest").get_json()
    assert digest["entries"] > 0
    result = _verify(runner)
    assert result.exit_code == 0, result.output
