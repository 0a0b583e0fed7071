"""The timeline: default template, editing, checklists ticked by the right people, the grid."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from sqlalchemy import select

from twestival.campaigns.models import Campaign
from twestival.extensions import db
from twestival.planning.models import ChecklistTick, Milestone

from tests.hub_support import csrf_token, login


@pytest.fixture
def dated(app, seed):
    """Event on 2027-03-20, so 'Venue booked' (8 weeks before) is due on 2027-01-23."""
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == seed))
        campaign.event_date = dt.date(2027, 3, 20)
        db.session.commit()
    return seed


def milestone_ids(app) -> dict[str, int]:
    with app.app_context():
        return {m.title: m.id for m in db.session.scalars(select(Milestone))}


def create_default(client, app, people):
    login(client, people["coordinator"])
    return client.post("/coordinate/tw/timeline/default", data={"csrf_token": csrf_token(client)})


def test_default_template_once_then_editable(app, client, people, dated):
    page = client.get("/coordinate/tw/timeline")
    assert page.status_code == 302
    assert create_default(client, app, people).status_code == 302
    ids = milestone_ids(app)
    assert "Venue booked" in ids and "Ticket page live" in ids
    html = client.get("/coordinate/tw/timeline").get_data(as_text=True)
    assert "8 weeks before" in html and "2027-01-23" in html
    # a second default would clobber the campaign's own timeline
    assert client.post("/coordinate/tw/timeline/default",
                       data={"csrf_token": csrf_token(client)}).status_code == 409

    token = csrf_token(client)
    response = client.post(f"/coordinate/tw/timeline/milestones/{ids['Venue booked']}",
                           data={"csrf_token": token, "title": "Venue signed", "days_before": "63"})
    assert response.status_code == 302
    response = client.post("/coordinate/tw/timeline/milestones",
                           data={"csrf_token": token, "title": "Screen tested", "days_before": "1"})
    assert response.status_code == 302
    with app.app_context():
        venue = db.session.get(Milestone, ids["Venue booked"])
        assert (venue.title, venue.days_before) == ("Venue signed", 63)
    assert "Screen tested" in milestone_ids(app)
    response = client.post(f"/coordinate/tw/timeline/milestones/{ids['Cash banked']}/delete",
                           data={"csrf_token": token})
    assert response.status_code == 302
    assert "Cash banked" not in milestone_ids(app)


def test_bad_milestone_is_refused_with_a_message(app, client, people, dated):
    login(client, people["coordinator"])
    response = client.post("/coordinate/tw/timeline/milestones",
                           data={"csrf_token": csrf_token(client), "title": "Soon",
                                 "days_before": "9999"})
    assert response.status_code == 422
    assert 'class="error"' in response.get_data(as_text=True)
    assert milestone_ids(app) == {}


def test_checklist_tick_and_untick_records_who_and_when(app, client, people, dated):
    create_default(client, app, people)
    venue = milestone_ids(app)["Venue booked"]
    # (signed in inside the trip: a session cookie from the real today looks stale in 2027)
    with time_machine.travel(dt.datetime(2027, 1, 20, 12, 0, tzinfo=dt.timezone.utc), tick=False):
        login(client, people["london"])
        response = client.post(f"/organise/tw/london/checklist/{venue}",
                               data={"csrf_token": csrf_token(client), "done": "1"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/organise/tw/london/checklist#m{venue}")
    with app.app_context():
        tick = db.session.scalar(select(ChecklistTick))
        assert tick.done and tick.changed_at == dt.datetime(2027, 1, 20, 12, tzinfo=dt.timezone.utc)
        from twestival.accounts.service import find_user
        assert tick.changed_by_id == find_user(db.session, people["london"]).id
    login(client, people["london"])
    html = client.get("/organise/tw/london/checklist").get_data(as_text=True)
    assert "done by London" in html and "1 of 7 done" in html

    login(client, people["london2"])
    response = client.post(f"/organise/tw/london/checklist/{venue}",
                           data={"csrf_token": csrf_token(client), "done": "0"})
    assert response.status_code == 302
    html = client.get("/organise/tw/london/checklist").get_data(as_text=True)
    assert "reopened by London2" in html and "0 of 7 done" in html
    with app.app_context():
        assert db.session.scalars(select(ChecklistTick)).all()[0].done is False


def test_checklist_authorisation(app, client, people, dated):
    create_default(client, app, people)
    venue = milestone_ids(app)["Venue booked"]
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    with client.session_transaction() as flask_session:
        flask_session.clear()
    url, post_url = "/organise/tw/london/checklist", f"/organise/tw/london/checklist/{venue}"
    anonymous_get = client.get(url)
    assert anonymous_get.status_code == 302 and "/login" in anonymous_get.headers["Location"]
    anonymous_post = client.post(post_url, data={"csrf_token": csrf_token(client), "done": "1"})
    assert anonymous_post.status_code == 302 and "/login" in anonymous_post.headers["Location"]
    expected = {"volunteer": 403, "tokyo": 403, "london": 302, "coordinator": 302}
    for who, status in expected.items():
        login(client, people[who])
        assert client.get(url).status_code == (200 if status == 302 else 403), who
        response = client.post(post_url, data={"csrf_token": csrf_token(client), "done": "1"})
        assert response.status_code == status, who
    with app.app_context():
        ticks = db.session.scalars(select(ChecklistTick)).all()
        assert len(ticks) == 1  # the refused ones wrote nothing
    # a milestone of another campaign, or none, is not found
    login(client, people["london"])
    assert client.post("/organise/tw/london/checklist/99999",
                       data={"csrf_token": csrf_token(client), "done": "1"}).status_code == 404


def test_coordinator_grid_shows_done_overdue_upcoming_in_city_calendars(app, client, people, dated):
    create_default(client, app, people)
    ids = milestone_ids(app)
    login(client, people["london"])
    client.post(f"/organise/tw/london/checklist/{ids['Organising team formed and city page written']}",
                data={"csrf_token": csrf_token(client), "done": "1"})
    # 2027-01-22 20:00 UTC: Tokyo is already on the 23rd (venue due today), London on the 22nd.
    # Team (due 2026-12-26) is done in London, overdue in Tokyo and Berlin.
    with time_machine.travel(dt.datetime(2027, 1, 22, 20, 0, tzinfo=dt.timezone.utc), tick=False):
        login(client, people["coordinator"])
        html = client.get("/coordinate/tw/timeline").get_data(as_text=True)
    rows = {name: row for name, row in re.findall(
        r'<th><a href="/organise/tw/(\w+)/checklist">.*?</a></th>(.*?)</tr>', html, re.S)}
    cells = {city: re.findall(r'class="cell (\w+)"', row) for city, row in rows.items()}
    assert cells["london"][:3] == ["done", "upcoming", "upcoming"]
    assert cells["tokyo"][:3] == ["overdue", "due", "upcoming"]
    assert cells["berlin"][:3] == ["overdue", "upcoming", "upcoming"]
    assert "1/7" in rows["london"] and 'style="width: 14%"' in rows["london"]
    assert "1 overdue" in rows["tokyo"]


def test_xss_in_milestones_renders_inert(app, client, people, dated):
    login(client, people["coordinator"])
    client.post("/coordinate/tw/timeline/milestones",
                data={"csrf_token": csrf_token(client), "title": "<script>alert(1)</script>",
                      "days_before": "5",
                      "details": "<img src=x onerror=alert(2)> [x](javascript:alert(3))"})
    for url, who in (("/coordinate/tw/timeline", "coordinator"),
                     ("/organise/tw/london/checklist", "london")):
        login(client, people[who])
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html
        assert not re.search(r"<img[^>]*onerror", html) and 'href="javascript:' not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_form_refuses_a_post_without_csrf_token(app, client, people, dated):
    create_default(client, app, people)
    venue = milestone_ids(app)["Venue booked"]
    login(client, people["coordinator"])
    urls = ["/coordinate/tw/announcements", "/coordinate/tw/timeline/default",
            "/coordinate/tw/timeline/milestones", f"/coordinate/tw/timeline/milestones/{venue}",
            f"/coordinate/tw/timeline/milestones/{venue}/delete",
            f"/organise/tw/london/checklist/{venue}", "/organise/tw/london/announcements/read",
            "/organise/tw/london/announcements/1/read"]
    for url in urls:
        response = client.post(url, data={"title": "x", "body": "y", "days_before": "3", "done": "1"})
        assert response.status_code == 400, url
    assert len(milestone_ids(app)) == 7
    with app.app_context():
        assert db.session.scalars(select(ChecklistTick)).all() == []
