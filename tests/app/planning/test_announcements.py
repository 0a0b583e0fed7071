"""Announcements: to all or chosen cities, per-user unread markers, mail after commit."""
from __future__ import annotations

import re

from sqlalchemy import select

from twestival.accounts.service import find_user
from twestival.announcements.service import unread_count
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.mail import OutboxMessage

from tests.hub_support import csrf_token, login


def post_announcement(client, app, people, **form):
    login(client, people["coordinator"])
    data = {"csrf_token": csrf_token(client), **form}
    return client.post("/coordinate/tw/announcements", data=data)


def unread(app, email, city):
    with app.app_context():
        campaign = get_campaign(db.session, "tw")
        return unread_count(db.session, find_user(db.session, email), campaign,
                            get_city(db.session, campaign, city))


def mail_to(app, email):
    with app.app_context():
        return [m.subject for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_addr == email))]


def test_announcement_to_chosen_city_reaches_only_that_city(app, client, people):
    response = post_announcement(client, app, people, title="Tokyo venue news",
                                 body="The **hall** is booked.", cities=["tokyo"])
    assert response.status_code == 302

    login(client, people["tokyo"])
    html = client.get("/organise/tw/tokyo/announcements").get_data(as_text=True)
    assert "Tokyo venue news" in html and "<strong>hall</strong>" in html
    assert "1 unread" in html and 'class="badge new"' in html

    login(client, people["london"])
    assert "Tokyo venue news" not in client.get("/organise/tw/london/announcements").get_data(as_text=True)
    assert client.get("/organise/tw/tokyo/announcements").status_code == 403

    assert unread(app, people["tokyo"], "tokyo") == 1
    assert unread(app, people["london"], "london") == 0
    assert mail_to(app, people["tokyo"]) == ["[Twestival Test] Tokyo venue news"]
    assert mail_to(app, people["london"]) == []
    assert mail_to(app, people["volunteer"]) == []


def test_announcement_to_everyone_and_per_user_read_receipts(app, client, people):
    assert post_announcement(client, app, people, title="Hello all", body="Welcome").status_code == 302
    for who, city in (("london", "london"), ("london2", "london"), ("tokyo", "tokyo")):
        assert unread(app, people[who], city) == 1
        assert mail_to(app, people[who]) == ["[Twestival Test] Hello all"]

    login(client, people["london"])
    page = client.get("/organise/tw/london/announcements").get_data(as_text=True)
    announcement_id = re.search(r'id="a(\d+)"', page).group(1)
    response = client.post(f"/organise/tw/london/announcements/{announcement_id}/read",
                           data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert unread(app, people["london"], "london") == 0
    assert unread(app, people["london2"], "london") == 1     # receipts are per person
    html = client.get("/organise/tw/london/announcements").get_data(as_text=True)
    assert "0 unread" in html and 'class="badge new"' not in html


def test_mark_all_read_and_unknown_announcement(app, client, people):
    post_announcement(client, app, people, title="One", body="1")
    post_announcement(client, app, people, title="Two", body="2", cities=["london"])
    assert unread(app, people["london"], "london") == 2
    login(client, people["london"])
    token = csrf_token(client)
    assert client.post("/organise/tw/london/announcements/read",
                       data={"csrf_token": token}).status_code == 302
    assert unread(app, people["london"], "london") == 0
    assert unread(app, people["tokyo"], "tokyo") == 1
    # Tokyo's organiser cannot reach London's announcement by id through their own city.
    login(client, people["tokyo"])
    with app.app_context():
        from twestival.announcements.models import Announcement
        london_only = db.session.scalar(select(Announcement.id).where(Announcement.title == "Two"))
    assert client.post(f"/organise/tw/tokyo/announcements/{london_only}/read",
                       data={"csrf_token": csrf_token(client)}).status_code == 404


def test_xss_in_announcements_renders_inert(app, client, people):
    post_announcement(client, app, people, title="<script>alert('t')</script>",
                      body="<img src=x onerror=alert(1)> [click](javascript:alert(2)) <script>alert(3)</script>")
    for url, who in (("/coordinate/tw/announcements", "coordinator"),
                     ("/organise/tw/london/announcements", "london")):
        login(client, people[who])
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html
        assert "onerror" not in html and "javascript:" not in html
        assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html


def test_bad_announcement_is_refused_with_a_message(app, client, people):
    response = post_announcement(client, app, people, title="", body="text")
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    response = post_announcement(client, app, people, title="x", body="y", cities=["atlantis"])
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalars(select(OutboxMessage)).all() == []


def test_announcement_mail_goes_out_over_smtp_after_commit(mail_app, smtp_server, seed):
    from .conftest import add_people
    inbox, _port = smtp_server
    client = mail_app.test_client()
    with mail_app.app_context():
        emails = add_people(db.session, get_campaign(db.session, seed))
        db.session.commit()
    response = post_announcement(client, mail_app, emails, title="Over SMTP", body="hi",
                                 cities=["london"])
    assert response.status_code == 302
    from twestival.mail import settle
    settle()
    assert sorted(m["to"][0] for m in inbox.messages) == sorted([emails["london"], emails["london2"]])
    assert "/organise/tw/london/announcements" in inbox.messages[0]["body"]


def test_announcement_pages_authorisation(app, client, people):
    url = "/organise/tw/london/announcements"
    assert client.get(url).status_code == 302 and "/login" in client.get(url).headers["Location"]
    assert client.get("/coordinate/tw/announcements").status_code == 302
    expected = {"volunteer": 403, "tokyo": 403, "london": 200, "coordinator": 200}
    for who, status in expected.items():
        login(client, people[who])
        assert client.get(url).status_code == status, who
        response = client.post(url + "/read", data={"csrf_token": csrf_token(client)})
        assert response.status_code == (302 if status == 200 else status), who
    for who in ("london", "volunteer", "tokyo"):
        login(client, people[who])
        assert client.get("/coordinate/tw/announcements").status_code == 403
        assert client.post("/coordinate/tw/announcements",
                           data={"csrf_token": csrf_token(client), "title": "x",
                                 "body": "y"}).status_code == 403


def test_organiser_desk_shows_unread_announcements_and_checklist_progress(app, client, people):
    from tests.hub_support import csrf_token
    login(client, people["coordinator"])
    assert client.post("/coordinate/tw/timeline/default",
                       data={"csrf_token": csrf_token(client)}).status_code == 302
    post_announcement(client, app, people, title="Posters", body="Print them", cities=["london"])
    login(client, people["london"])
    html = client.get("/organise/tw/london").get_data(as_text=True)
    assert "1 new" in html and 'href="/organise/tw/london/announcements"' in html
    assert 'href="/organise/tw/london/checklist"' in html and ">0/7" in html
    login(client, people["volunteer"])
    html = client.get("/organise/tw/london").get_data(as_text=True)
    assert "/announcements" not in html and "/checklist" not in html
