"""The command line speaks the environment's language (LANGUAGE, LC_ALL, LC_MESSAGES, LANG, the
first one set winning, as GNU gettext chooses): refusals on stderr, confirmations, import
reports and option help in English, German or French; machine output stays as it is. Domain
refusals that used to be English only (rates, money, mappings) are said in the page's language.
"""
from __future__ import annotations

import re

import pytest

from twestival.accounts.models import Role
from twestival.campaigns.service import add_city, get_campaign
from twestival.cli.language import cli_language
from twestival.extensions import db

from tests.hub_support import csrf_token, login, person
from tests.imports_helpers import FIXTURES

PAID_ORDERS = str(FIXTURES / "ticketing/eventbrite/paid_orders.csv")
NB = "\u00a0"
GERMAN, FRENCH = {"LANG": "de_DE.UTF-8"}, {"LANGUAGE": "fr", "LANG": "de_DE.UTF-8"}


@pytest.mark.parametrize("environ, language", [
    ({}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "POSIX"}, "en"),
    ({"LANG": "es_ES.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LANG": "de_AT.UTF-8@euro"}, "de"),
    ({"LC_MESSAGES": "de_DE.UTF-8", "LANG": "fr_FR.UTF-8"}, "de"),
    ({"LC_ALL": "C", "LC_MESSAGES": "de_DE.UTF-8"}, "en"),
    ({"LANGUAGE": "es:fr:de", "LC_ALL": "de_DE.UTF-8"}, "fr"),
    ({"LANGUAGE": "", "LANG": "fr_CA.UTF-8"}, "fr"),
])
def test_the_language_is_the_first_set_variable_as_gnu_gettext_reads_it(environ, language):
    assert cli_language(environ) == language


def test_a_refused_import_says_why_in_german_and_french_and_exits_non_zero(app, seed, runner):
    args = ["import", "tw", PAID_ORDERS, "--format", "csv"]
    german = runner.invoke(args=args, env=GERMAN)
    assert german.exit_code == 2
    assert "Fehler: ein CSV-Import braucht --mapping NAME (eine gespeicherte Spaltenzuordnung)" \
        in german.stderr
    french = runner.invoke(args=args, env=FRENCH)
    assert french.exit_code == 2
    assert f"Erreur{NB}: un import CSV a besoin de --mapping NOM" in french.stderr
    english = runner.invoke(args=args)
    assert english.exit_code == 2
    assert "Error: a CSV import needs --mapping NAME" in english.stderr


def test_domain_and_command_line_refusals_are_translated_with_their_values(app, seed, runner):
    unknown = runner.invoke(args=["city", "add", "tw", "lima", "--name", "Lima", "--country",
                                  "PE", "--currency", "XQX", "--timezone", "America/Lima",
                                  "--target", "100"], env=FRENCH)
    assert unknown.exit_code == 2 and "devise inconnue 'XQX'" in unknown.stderr
    rate = runner.invoke(args=["fx", "set", "KES", "1e3", "--date", "2026-12-01", "--source",
                               "CBK"], env=GERMAN)
    assert rate.exit_code == 2 and "der Kurs '1e3' ist keine Dezimalzahl wie 140.25" in rate.stderr
    neither = runner.invoke(args=["campaign", "rates", "tw"], env=FRENCH)
    assert neither.exit_code == 2
    assert f"donnez exactement l’un des deux{NB}: --fixed AAAA-MM-JJ ou --daily" in neither.stderr
    assert "nothing" not in unknown.stderr + rate.stderr + neither.stderr


def test_an_import_report_in_french(app, seed, runner):
    result = runner.invoke(args=["import", "tw", PAID_ORDERS, "--format", "eventbrite",
                                 "--city", "london"], env=FRENCH)
    assert result.exit_code == 0, result.output
    assert f"paid_orders.csv (eventbrite) dans tw{NB}:" in result.stdout
    assert f"  lignes{NB}: " in result.stdout and f"  importées{NB}: 3" in result.stdout
    assert f"  doublons ignorés{NB}: 0" in result.stdout
    new_money = next(line for line in result.stdout.splitlines() if "argent nouveau" in line)
    assert "£" in new_money and "," in new_money     # the amount written the French way
    assert "imported" not in result.stdout


def test_english_when_no_language_is_set(app, seed, runner):
    result = runner.invoke(args=["import", "tw", PAID_ORDERS, "--format", "eventbrite",
                                 "--city", "london"])
    assert result.exit_code == 0, result.output
    assert "paid_orders.csv (eventbrite) into tw:" in result.stdout
    assert "  imported: 3" in result.stdout and "  duplicates skipped: 0" in result.stdout
    again = runner.invoke(args=["import", "tw", PAID_ORDERS, "--format", "eventbrite",
                                "--city", "london"], env={"LANG": "pt_BR.UTF-8"})
    assert "  duplicates skipped: 3" in again.stdout


def test_confirmations_and_option_help_follow_the_language(app, seed, runner):
    created = runner.invoke(args=["campaign", "create", "fr26", "--name", "Paris 2026",
                                  "--currency", "EUR"], env=FRENCH)
    assert created.exit_code == 0 and "campagne fr26 créée (EUR)" in created.stdout
    german_help = " ".join(runner.invoke(args=["import", "--help"], env=GERMAN).stdout.split())
    assert "Gespeicherte Spaltenzuordnung (mit --format csv)." in german_help
    english_help = " ".join(runner.invoke(args=["import", "--help"]).stdout.split())
    assert "Saved column mapping (with --format csv)." in english_help
    french_list = " ".join(runner.invoke(args=["fx", "--help"], env=FRENCH).stdout.split())
    assert "Saisir un taux pour une devise que la BCE ne publie pas." in french_list


def test_machine_output_is_the_same_in_every_language(app, seed, runner):
    saved = runner.invoke(args=["mapping", "save", "tw", "tito", "--date", "Paid at",
                                "--amount", "Total", "--default-currency", "GBP"], env=GERMAN)
    assert saved.exit_code == 0 and "Zuordnung tito für tw gespeichert" in saved.stdout
    listings = {lang: runner.invoke(args=["mapping", "list", "tw"], env=env).stdout
                for lang, env in (("en", {}), ("de", GERMAN), ("fr", FRENCH))}
    assert listings["en"] == listings["de"] == listings["fr"]
    assert listings["en"].startswith("tito\tticketing\tdate=Paid at amount=Total")
    rates = {lang: runner.invoke(args=["fx", "list"], env=env).stdout
             for lang, env in (("en", {}), ("fr", FRENCH))}
    assert rates["en"] == rates["fr"] and "rates in use on" in rates["en"]


def test_a_rate_refusal_on_the_coordinator_page_is_in_the_readers_language(app, client, seed):
    person(app, "coord@example.org", Role.coordinator)
    with app.app_context():
        add_city(db.session, get_campaign(db.session, seed), "nairobi", name="Nairobi",
                 country="KE", currency="KES", timezone="Africa/Nairobi", target="100000.00")
        db.session.commit()
    login(client, "coord@example.org")
    form = {"currency": "KES", "rate": "140.25", "day": "2026-12-01", "source": "CBK"}
    token = csrf_token(client, "/coordinate/tw/rates")
    assert client.post("/coordinate/tw/rates", data=dict(form, csrf_token=token)).status_code == 303
    for locale, said in (
            ("fr", (f"KES a déjà un taux pour le 2026-12-01 (140.25, CBK){NB}; un nouveau taux "
                    "a besoin de sa propre date")),
            ("de", ("KES hat bereits einen Kurs für den 2026-12-01 (140.25, CBK); ein neuer "
                    "Kurs braucht ein eigenes Datum")),
            ("en", ("KES already has a rate for 2026-12-01 (140.25, CBK); a new rate needs its "
                    "own date"))):
        with client.session_transaction() as session:
            session["locale"] = locale
        token = csrf_token(client, "/coordinate/tw/rates")
        again = client.post("/coordinate/tw/rates", data=dict(form, rate="141", csrf_token=token))
        assert again.status_code == 422 and said in again.get_data(as_text=True), locale


def test_an_imports_report_in_the_history_is_in_the_readers_language(app, client, seed, runner):
    """The command line imported it; the coordinator reads the stored report in French."""
    assert runner.invoke(args=["import", "tw", PAID_ORDERS, "--format", "eventbrite",
                               "--city", "london"]).exit_code == 0
    person(app, "coord@example.org", Role.coordinator)
    login(client, "coord@example.org")
    with client.session_transaction() as session:
        session["locale"] = "fr"
    listing = client.get("/coordinate/tw/imports/history").get_data(as_text=True)
    record = re.search(r'href="(/coordinate/tw/imports/history/\d+)"', listing).group(1)
    page = client.get(record).get_data(as_text=True)
    assert f"<li>importées{NB}: 3</li>" in page and f"<li>doublons ignorés{NB}: 0</li>" in page
    assert "<li>imported: 3</li>" not in page
