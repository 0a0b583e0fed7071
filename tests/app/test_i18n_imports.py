"""An import's report speaks its reader's language: the notes and the rows' errors the parsers
write are kept as msgid and values, said in German or French on the result page, when the
import is reopened from the history, on the command line and in a replay's failure lines;
a report stored as plain English text before still reads. Click's own usage texts follow the
command line's language too."""
from __future__ import annotations

import io
import re
from pathlib import Path

import click
import pytest
from sqlalchemy import select

from tests.hub_support import csrf_token, email_of, login, person
from tests.imports_helpers import FIXTURES, run_import
from twestival.accounts.models import Role
from twestival.cli import click_texts
from twestival.extensions import db
from twestival.streams.files.history import ImportRecord

PAID = FIXTURES / "ticketing/eventbrite/paid_orders.csv"          # one free order: a note
MALFORMED = FIXTURES / "ticketing/eventbrite/malformed_amount.csv"  # lines 3 and 5 are bad
IMPORTS = "/organise/tw/london/imports"
HISTORY = "/organise/tw/london/imports/history"
NB = "\u00a0"
GERMAN, FRENCH = {"LANG": "de_DE.UTF-8"}, {"LANG": "fr_FR.UTF-8"}

REFUSED = {
    "de": ["<p>Nichts wurde importiert: die Datei wurde abgelehnt, nichts wurde verbucht</p>",
           "<li>Zeile 3: der Betrag &#39;twenty&#39; ist keine Zahl</li>",
           ("<li>Zeile 5: Bestelldatum &#39;not a date&#39; ist kein Datum, wie Eventbrite es "
            "schreibt</li>")],
    "fr": [f"<p>Rien n’a été importé{NB}: le fichier a été refusé, rien n’a été enregistré</p>",
           f"<li>ligne 3{NB}: le montant &#39;twenty&#39; n’est pas un nombre</li>",
           (f"<li>ligne 5{NB}: la date de commande &#39;not a date&#39; n’est pas une date "
            "telle qu’Eventbrite l’écrit</li>")],
}
NOTE = {"de": "Hinweis: 1 kostenlose Bestellung(en) ohne Betrag, nichts zu zählen",
        "fr": f"remarque{NB}: 1 commande(s) gratuite(s), rien à compter"}


@pytest.fixture
def organiser(app, seed, client):
    user = person(app, "lon@example.org", Role.organiser, city="london")
    login(client, email_of(app, user))
    return user


def upload(client, path: Path, lang: str):
    data = {"csrf_token": csrf_token(client, IMPORTS), "format": "eventbrite", "mapping": "",
            "file": (io.BytesIO(path.read_bytes()), path.name)}
    return client.post(IMPORTS, data=data, content_type="multipart/form-data",
                       headers={"Accept-Language": lang})


def newest(app) -> ImportRecord:
    with app.app_context():
        return db.session.scalars(select(ImportRecord).order_by(ImportRecord.id.desc())).first()


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_a_refused_file_names_its_bad_rows_in_the_readers_language(app, client, organiser,
                                                                   lang):
    page = upload(client, MALFORMED, lang)
    assert page.status_code == 422
    for text in REFUSED[lang]:
        assert text in page.text
    assert "is not a number" not in page.text
    reopened = client.get(f"{HISTORY}/{newest(app).id}", headers={"Accept-Language": lang})
    for text in REFUSED[lang]:
        assert text in reopened.text
    # Read later in the other language, the same stored refusal says it in that one.
    other = "fr" if lang == "de" else "de"
    again = client.get(f"{HISTORY}/{newest(app).id}", headers={"Accept-Language": other})
    for text in REFUSED[other]:
        assert text in again.text


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_a_reports_note_is_said_on_the_result_page_and_in_the_history(app, client, organiser,
                                                                      lang):
    page = upload(client, PAID, lang)
    assert page.status_code == 200 and NOTE[lang] in page.text
    reopened = client.get(f"{HISTORY}/{newest(app).id}", headers={"Accept-Language": lang})
    assert NOTE[lang] in reopened.text
    english = client.get(f"{HISTORY}/{newest(app).id}", headers={"Accept-Language": "en"})
    assert "note: 1 free order(s) with nothing to count" in english.text


def test_a_bank_lines_review_reason_is_said_in_the_coordinators_language(app, client, seed):
    run_import(app, FIXTURES / "bank/camt053/camt_parser/camt054_valid_example.xml", "camt053")
    login(client, email_of(app, person(app, "boss@example.org", Role.coordinator)))
    page = client.get("/coordinate/tw/unassigned", headers={"Accept-Language": "de"})
    assert "keine gezählte Gutschrift dieses Betrags auf diesem Konto gefunden" in page.text
    assert "no counted credit" not in page.text


def test_a_report_stored_as_plain_text_before_still_reads(app, client, organiser):
    assert upload(client, PAID, "en").status_code == 200
    record = newest(app)
    with app.app_context():
        row = db.session.get(ImportRecord, record.id)
        row.report = {**row.report, "notes": ["3 free order(s) with nothing to count"],
                      "errors": []}
        refused = ImportRecord(**{c: getattr(row, c) for c in (
            "campaign_id", "city_id", "payload_id", "stream", "format", "filename", "sha256",
            "via", "by_user_id", "actor")}, status="rejected",
            error="the file was refused, nothing was recorded: line 3: amount 'x' is not a "
                  "number")
        db.session.add(refused)
        db.session.commit()
        refused_id = refused.id
    kept = client.get(f"{HISTORY}/{record.id}", headers={"Accept-Language": "de"})
    assert kept.status_code == 200
    assert "Hinweis: 3 free order(s) with nothing to count" in kept.text
    old = client.get(f"{HISTORY}/{refused_id}", headers={"Accept-Language": "de"})
    assert old.status_code == 200
    assert ("Nichts wurde importiert: the file was refused, nothing was recorded: line 3: "
            "amount &#39;x&#39; is not a number") in old.text


def test_the_command_line_reports_in_its_language(app, seed, runner):
    refused = runner.invoke(args=["import", "tw", str(MALFORMED), "--format", "eventbrite",
                                  "--city", "london"], env=GERMAN)
    assert refused.exit_code == 2
    assert ("Fehler: die Datei wurde abgelehnt, nichts wurde verbucht: Zeile 3: der Betrag "
            "'twenty' ist keine Zahl; Zeile 5: Bestelldatum 'not a date' ist kein Datum, wie "
            "Eventbrite es schreibt") in refused.stderr
    done = runner.invoke(args=["import", "tw", str(PAID), "--format", "eventbrite",
                               "--city", "london"], env=FRENCH)
    assert done.exit_code == 0, done.output
    assert f"  remarque{NB}: 1 commande(s) gratuite(s), rien à compter" in done.stdout
    # What was stored is said again in another language.
    with app.test_request_context(headers={"Accept-Language": "de"}):
        from twestival.web.i18n import said
        with app.app_context():
            rejected = db.session.scalars(select(ImportRecord).where(
                ImportRecord.status == "rejected")).one()
            assert said(rejected.refusal()).startswith(
                "die Datei wurde abgelehnt, nichts wurde verbucht: Zeile 3: der Betrag")


def test_a_replays_failure_lines_are_translated(app, seed, runner):
    runner.invoke(args=["import", "tw", str(MALFORMED), "--format", "eventbrite",
                        "--city", "london"])
    german = runner.invoke(args=["replay", "tw"], env=GERMAN)
    line = next(line for line in german.stderr.splitlines() if line.startswith("Eingang"))
    assert re.fullmatch(r"Eingang \d+ \(ticketing\) abgelehnt: die Datei wurde abgelehnt, "
                        r"nichts wurde verbucht: Zeile 3: der Betrag 'twenty' ist keine Zahl; "
                        r"Zeile 5: .*", line), line
    french = runner.invoke(args=["replay", "tw"], env=FRENCH)
    assert re.search(rf"entrée \d+ \(ticketing\) refusée{NB}: le fichier a été refusé",
                     french.stderr), french.stderr
    english = runner.invoke(args=["replay", "tw"])
    assert re.search(r"payload \d+ \(ticketing\) refused: the file was refused", english.stderr)


def test_clicks_usage_errors_follow_the_command_lines_language(app, runner):
    german = runner.invoke(args=["import"], env=GERMAN)
    assert german.exit_code == 2
    assert "Aufruf: " in german.stderr and "Fehler: Fehlendes Argument 'CAMPAIGN'." \
        in german.stderr and "' liefert Hilfe." in german.stderr
    choice = runner.invoke(args=["import", "tw", str(PAID), "--format", "xls"], env=GERMAN)
    assert "Fehler: Ungültiger Wert für '--format': 'xls' ist keiner von 'eventbrite'" \
        in choice.stderr
    french = runner.invoke(args=["import", "tw", str(PAID), "--nope"], env=FRENCH)
    assert f"Utilisation{NB}: " in french.stderr
    assert f"Erreur{NB}: Option '--nope' inconnue." in french.stderr
    english = runner.invoke(args=["import"])
    assert "Usage: " in english.stderr and "Error: Missing argument 'CAMPAIGN'." in english.stderr


def test_the_listed_click_texts_are_clicks_own():
    # A click upgrade that rewords one of them would leave its translation unused.
    source = "".join(path.read_text() for path in Path(click.__file__).parent.glob("*.py"))
    listed = list(click_texts.TEXTS) + [text for pair in click_texts.PLURALS for text in pair]
    assert [text for text in listed if f'"{text}"' not in source] == []
    assert '"Usage of click:"' not in source   # the check itself: a text click does not have
