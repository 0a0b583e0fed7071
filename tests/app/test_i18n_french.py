"""French, the third language: chosen by the browser, the switcher or the account, and mails
in the recipient's language whoever caused them."""
from __future__ import annotations

import datetime as dt
import re

import time_machine
from sqlalchemy import select, update

from twestival.accounts.models import Role, User
from twestival.campaigns.service import get_campaign
from twestival.extensions import db
from twestival.planning import timeline
from twestival.planning.scheduler import reminders_job

from tests.app.test_giving_sandbox import entries, pay, sandbox_app
from tests.hub_support import csrf_token, login, outbox, person

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
NNBSP, NBSP = "\u202f", "\u00a0"


def _speaks(app, email, lang):
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(locale=lang))
        db.session.commit()


def test_the_board_follows_a_french_browser_in_words_and_money(client, seed):
    html = client.get("/c/tw", headers=FR).get_data(as_text=True)
    assert '<html lang="fr">' in html and "Collecté dans le monde" in html
    assert f"0,00{NBSP}£GB" in html                       # Babel's French currency format
    assert 'lang="fr">Français</button>' in html
    apply_page = client.get("/c/tw/apply", headers=FR).get_data(as_text=True)
    assert "Faites venir Twestival dans votre ville" in apply_page


def test_the_switcher_chooses_french_over_the_browser(client, seed):
    client.post("/language", data={"locale": "fr", "next": "/c/tw",
                                   "csrf_token": csrf_token(client, "/c/tw")})
    html = client.get("/c/tw", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Collecté dans le monde" in html


def test_a_french_organisers_desks_are_french_on_any_browser(app, client, seed):
    person(app, "camille@example.org", Role.organiser, city="london")
    _speaks(app, "camille@example.org", "fr")
    login(client, "camille@example.org")
    english_browser = {"Accept-Language": "en"}
    desk = client.get("/organise/tw/london", headers=english_browser).get_data(as_text=True)
    assert "Espèces et chèques" in desk
    checklist = client.get("/organise/tw/london/checklist", headers=english_browser)
    assert "Liste de tâches" in checklist.get_data(as_text=True)


def test_a_french_donor_gives_in_french_amounts_and_gets_a_french_receipt(database_url):
    for app in sandbox_app(database_url):
        client = app.test_client()
        page = client.get("/c/tw/london/donate", headers=FR).get_data(as_text=True)
        assert "Donner par carte" in page and f"10{NBSP}£GB" in page
        fields = dict(re.findall(r'name="(csrf_token|form_key)" value="([^"]+)"', page))
        refused = client.post("/c/tw/london/donate", headers=FR, data={**fields, "amount": "dix"})
        assert refused.status_code == 422
        assert "Veuillez écrire le montant sous forme de nombre" in refused.get_data(as_text=True)
        # French groups thousands with a space; a plain one typed on a keyboard is understood.
        started = client.post("/c/tw/london/donate", headers=FR,
                              data={**fields, "amount": "1 000,50"})
        assert started.status_code == 303, started.get_data(as_text=True)
        checkout = client.get(started.headers["Location"], headers=FR).get_data(as_text=True)
        assert f"Payer 1{NNBSP}000,50{NBSP}£GB" in checkout
        assert pay(client, started.headers["Location"], email="zoe@example.org").status_code == 303
        [entry] = entries(app)
        assert (entry.amount_minor, entry.currency) == (100050, "GBP")
        [receipt] = outbox(app, "zoe@example.org")
        assert receipt.subject.startswith("Votre reçu ") and "Merci pour votre don" in receipt.body
        assert f"Montant{NBSP}: 1{NNBSP}000,50{NBSP}£GB" in receipt.body


def test_a_password_reset_mail_speaks_the_accounts_language_not_the_pages(app, client, seed):
    person(app, "camille@example.org", Role.organiser, city="london")
    _speaks(app, "camille@example.org", "fr")
    client.post("/forgot-password", headers={"Accept-Language": "en"},
                data={"email": "camille@example.org", "csrf_token": csrf_token(client, "/forgot-password")})
    [mail] = outbox(app, "camille@example.org")
    assert mail.subject == "Choisir un nouveau mot de passe twestival"
    assert mail.body.startswith("Bonjour camille,") and "valable 7 jours" in mail.body


def test_an_english_coordinators_announcement_reaches_a_french_organiser_in_french(app, client, seed):
    person(app, "lead@example.org", Role.coordinator)
    person(app, "camille@example.org", Role.organiser, city="london")
    person(app, "ada@example.org", Role.organiser, city="tokyo")
    _speaks(app, "camille@example.org", "fr")
    login(client, "lead@example.org")
    response = client.post("/coordinate/tw/announcements", headers={"Accept-Language": "en"},
                           data={"title": "Doors at 7", "body": "See you there.",
                                 "csrf_token": csrf_token(client, "/coordinate/tw/announcements")})
    assert response.status_code in (302, 303)
    [french] = outbox(app, "camille@example.org")
    [english] = outbox(app, "ada@example.org")
    assert "Twestival Test\u00a0: annonce pour London" in french.body
    assert "Twestival Test: announcement for Tokyo" in english.body


def test_reminders_are_written_in_each_organisers_language(app, seed):
    person(app, "camille@example.org", Role.organiser, city="london")
    person(app, "ada@example.org", Role.organiser, city="london")
    _speaks(app, "camille@example.org", "fr")
    with app.app_context():
        campaign = get_campaign(db.session, seed)
        campaign.event_date = dt.date(2027, 2, 15)
        timeline.add_milestone(db.session, campaign, title="Venue booked", days_before=14)
        db.session.commit()
    with time_machine.travel(dt.datetime(2027, 2, 4, 9, 0, tzinfo=dt.timezone.utc), tick=False):
        assert reminders_job(app) == 1
    [french] = outbox(app, "camille@example.org")
    [english] = outbox(app, "ada@example.org")
    assert french.subject == "[Twestival Test] London: Venue booked\u00a0: en retard de 3 jours"
    assert english.subject == "[Twestival Test] London: Venue booked is overdue by 3 days"
    assert "Vous recevez ce message parce que vous organisez cette ville." in french.body


def test_an_unknown_stored_language_falls_back_to_english(app, client, seed):
    person(app, "kim@example.org", Role.organiser, city="london")
    _speaks(app, "kim@example.org", "ko")
    client.post("/forgot-password", data={"email": "kim@example.org",
                                          "csrf_token": csrf_token(client, "/forgot-password")})
    [mail] = outbox(app, "kim@example.org")
    assert mail.subject == "Set a new twestival password"
    with app.app_context():
        assert db.session.scalar(select(User.locale).where(User.email == "kim@example.org")) == "ko"


def test_the_default_timeline_is_written_in_the_coordinators_language(app, client, seed):
    person(app, "lead@example.org", Role.coordinator)
    _speaks(app, "lead@example.org", "fr")
    login(client, "lead@example.org")
    response = client.post("/coordinate/tw/timeline/default",
                           data={"csrf_token": csrf_token(client, "/coordinate/tw/timeline")})
    assert response.status_code in (302, 303)
    with app.app_context():
        titles = [m.title for m in timeline.milestones(db.session, get_campaign(db.session, seed))]
    assert "Lieu réservé" in titles and "Venue booked" not in titles
