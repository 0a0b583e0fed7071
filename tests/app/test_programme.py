"""The night's programme: run sheets and sponsors on the desks, who may edit them, what the
public pages and screens get, and the live push of run sheet edits."""
from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from twestival.accounts.models import Role
from twestival.audit.models import AuditEntry
from twestival.campaigns.service import get_campaign, get_city
from twestival.extensions import db
from twestival.programme import logos, runsheet, sponsors
from twestival.programme.models import RunSheetItem, Sponsor

from tests.helpers import wait_for
from tests.hub_support import csrf_token, login, person

ANON, VOLUNTEER, OTHER_CITY, ORGANISER, COORDINATOR = (
    "anonymous", "volunteer", "organiser of another city", "organiser of the city", "coordinator")
VISITORS = (ANON, VOLUNTEER, OTHER_CITY, ORGANISER, COORDINATOR)
EMAILS = {VOLUNTEER: "vol@example.org", OTHER_CITY: "tokyo-org@example.org",
          ORGANISER: "london-org@example.org", COORDINATOR: "coord@example.org"}
LOGIN = "login"


def png(size=(320, 160), colour=(200, 30, 60, 255), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, colour).save(out, "PNG", **save)
    return out.getvalue()


def jpeg(size=(320, 160), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 90, 200)).save(out, "JPEG", **save)
    return out.getvalue()


def webp(size=(320, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (0, 160, 90, 128)).save(out, "WEBP")
    return out.getvalue()


ITEM = {"new-at_local": "2027-02-12T20:00", "new-title": "Doors open", "new-note": "Coats left"}


def sponsor_body(name="Acme Beer", data=None, filename="logo.png", link="https://acme.example"):
    return {"new-name": name, "new-link": link,
            "new-logo": (io.BytesIO(png() if data is None else data), filename)}


# method, path, body, expected for: anon, volunteer, other city, organiser, coordinator
MATRIX = [
    ("GET", "/organise/tw/london/programme", None, LOGIN, 403, 403, 200, 200),
    ("POST", "/organise/tw/london/run-sheet", lambda ids: dict(ITEM), LOGIN, 403, 403, 303, 303),
    ("POST", "/organise/tw/london/run-sheet/{item}", lambda ids: {
        f"item{ids['item']}-at_local": "2027-02-12T21:00", f"item{ids['item']}-title": "Raffle"},
     LOGIN, 403, 403, 303, 303),
    ("POST", "/organise/tw/london/run-sheet/{item}/delete", lambda ids: {},
     LOGIN, 403, 403, 303, 303),
    ("POST", "/organise/tw/london/sponsors", lambda ids: sponsor_body(), LOGIN, 403, 403, 303, 303),
    ("POST", "/organise/tw/london/sponsors/{city_sponsor}", lambda ids: {
        f"sponsor{ids['city_sponsor']}-name": "Acme Brewing"}, LOGIN, 403, 403, 303, 303),
    ("POST", "/organise/tw/london/sponsors/{city_sponsor}/delete", lambda ids: {},
     LOGIN, 403, 403, 303, 303),
    # An organiser's desk never reaches the campaign's sponsors, even by id.
    ("POST", "/organise/tw/london/sponsors/{campaign_sponsor}/delete", lambda ids: {},
     LOGIN, 403, 403, 404, 404),
    ("GET", "/coordinate/tw/sponsors", None, LOGIN, 403, 403, 403, 200),
    ("POST", "/coordinate/tw/sponsors", lambda ids: sponsor_body("Big Bank"),
     LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/sponsors/{campaign_sponsor}", lambda ids: {
        f"sponsor{ids['campaign_sponsor']}-name": "Big Bank plc"}, LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/sponsors/{campaign_sponsor}/delete", lambda ids: {},
     LOGIN, 403, 403, 403, 303),
    ("POST", "/coordinate/tw/sponsors/{city_sponsor}/delete", lambda ids: {},
     LOGIN, 403, 403, 403, 404),
]


@pytest.fixture
def night(app, seed):
    person(app, EMAILS[VOLUNTEER], Role.volunteer, city="london")
    person(app, EMAILS[OTHER_CITY], Role.organiser, city="tokyo")
    person(app, EMAILS[ORGANISER], Role.organiser, city="london")
    person(app, EMAILS[COORDINATOR], Role.coordinator)
    return fresh_rows(app)


def fresh_rows(app) -> dict:
    """One run sheet item, one London sponsor and one campaign sponsor, for the routes that
    edit or delete them."""
    import datetime as dt
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        london = get_city(db.session, camp, "london")
        item = runsheet.add(db.session, london, runsheet.ItemDetails(
            dt.datetime(2027, 2, 12, 19, 0), "Welcome"), by_user_id=None)
        city_sponsor = sponsors.add(db.session, camp, london, sponsors.SponsorDetails("Local Co"),
                                    logos.clean(png()), by_user_id=None)
        campaign_sponsor = sponsors.add(db.session, camp, None, sponsors.SponsorDetails("Global Co"),
                                        logos.clean(jpeg()), by_user_id=None)
        db.session.commit()
        return {"item": item.id, "city_sponsor": city_sponsor.id,
                "campaign_sponsor": campaign_sponsor.id}


def _send(client, method, path, body, token):
    if method == "GET":
        return client.get(path)
    return client.post(path, data=dict(body, csrf_token=token),
                       content_type="multipart/form-data")


@pytest.mark.parametrize("visitor", VISITORS)
def test_every_route_answers_each_visitor_as_expected(app, client, night, visitor):
    if visitor != ANON:
        login(client, EMAILS[visitor])
    token = csrf_token(client, "/")
    wrong = []
    for method, path, body, *expected in MATRIX:
        want = dict(zip(VISITORS, expected))[visitor]
        ids = fresh_rows(app)   # each row acts on rows of its own: a delete leaves the next one work
        url = path.format(**ids)
        response = _send(client, method, url, body(ids) if body else None, token)
        ok = (response.status_code == 302 and response.location.startswith("/login")
              if want == LOGIN else response.status_code == want)
        if not ok:
            wrong.append(f"{method} {url}: wanted {want}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)


def _counts(app) -> tuple[int, int, int]:
    with app.app_context():
        count = lambda model: db.session.scalar(select(func.count()).select_from(model))
        return count(RunSheetItem), count(Sponsor), count(AuditEntry)


def test_refused_visitors_change_nothing(app, client, night):
    before = _counts(app)
    for who in (VOLUNTEER, OTHER_CITY):
        login(client, EMAILS[who])
        token = csrf_token(client, "/")
        for method, path, body, *_ in MATRIX:
            if method == "POST":
                _send(client, method, path.format(**night), body(night), token)
        client.get("/logout")
    assert _counts(app) == before


def test_every_form_refuses_a_post_without_a_csrf_token(app, client, night):
    login(client, EMAILS[COORDINATOR])
    before = _counts(app)
    for method, path, body, *_ in MATRIX:
        if method != "POST":
            continue
        response = client.post(path.format(**night), data=body(night),
                               content_type="multipart/form-data")
        assert response.status_code == 400, path
    assert _counts(app) == before


def _post(client, path, data, page):
    return client.post(path, data=dict(data, csrf_token=csrf_token(client, page)),
                       content_type="multipart/form-data")


def test_an_organiser_keeps_the_run_sheet_in_time_order_and_it_is_audited(app, client, night):
    login(client, EMAILS[ORGANISER])
    page = "/organise/tw/london/programme"
    for at, title in (("2027-02-12T21:30", "The appeal"), ("2027-02-12T20:15", "Speeches")):
        response = _post(client, "/organise/tw/london/run-sheet",
                         {"new-at_local": at, "new-title": title}, page)
        assert response.status_code == 303
    item = night["item"]
    response = _post(client, f"/organise/tw/london/run-sheet/{item}",
                     {f"item{item}-at_local": "2027-02-12T22:00", f"item{item}-title": "Raffle",
                      f"item{item}-note": "Tickets at the bar"}, page)
    assert response.status_code == 303
    with app.app_context():
        london = get_city(db.session, get_campaign(db.session, "tw"), "london")
        sheet = runsheet.public(db.session, london)
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.actor_id.is_not(None)).order_by(AuditEntry.id)).all()
    assert [i["title"] for i in sheet] == ["Speeches", "The appeal", "Raffle"]
    # London is on GMT in February: the instant in UTC is the wall clock.
    assert sheet[0]["at"] == "2027-02-12T20:15:00Z"
    assert sheet[2]["note"] == "Tickets at the bar"
    assert actions == ["runsheet.added", "runsheet.added", "runsheet.edited"]
    response = _post(client, f"/organise/tw/london/run-sheet/{item}/delete", {}, page)
    assert response.status_code == 303
    assert "Raffle" not in client.get(page).get_data(as_text=True)


def test_the_run_sheet_time_is_the_citys_own(app, client, night):
    login(client, EMAILS[COORDINATOR])
    _post(client, "/organise/tw/tokyo/run-sheet",
          {"new-at_local": "2027-02-12T19:00", "new-title": "Kampai"}, "/organise/tw/tokyo/programme")
    with app.app_context():
        tokyo = get_city(db.session, get_campaign(db.session, "tw"), "tokyo")
        assert runsheet.public(db.session, tokyo)[0]["at"] == "2027-02-12T10:00:00Z"


@pytest.mark.parametrize("data, message", [
    ({"new-at_local": "", "new-title": "Doors"}, "Give the item's time."),
    ({"new-at_local": "2027-02-12T20:00", "new-title": "  "}, "Give the item a title."),
    ({"new-at_local": "tomorrow", "new-title": "Doors"}, "Give the item's time."),
    ({"new-at_local": "2027-02-12T20:00", "new-title": "x" * 121}, "Field cannot be longer"),
])
def test_a_bad_item_is_refused_at_its_field(app, client, night, data, message):
    login(client, EMAILS[ORGANISER])
    before = _counts(app)
    response = _post(client, "/organise/tw/london/run-sheet", data, "/organise/tw/london/programme")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _counts(app) == before


def test_the_public_pages_show_the_run_sheet_and_the_sponsors(app, client, night):
    city_page = client.get("/c/tw/london").get_data(as_text=True)
    screen = client.get("/c/tw/london/screen").get_data(as_text=True)
    campaign_screen = client.get("/c/tw/screen").get_data(as_text=True)
    sheet = json.loads(re.search(r'<script id="run-sheet-data" type="application/json">(.*?)</script>',
                                 screen).group(1))
    assert [(i["title"], i["at"]) for i in sheet] == [("Welcome", "2027-02-12T19:00:00Z")]
    assert "Welcome" in city_page and "Tonight" in city_page
    assert 'alt="Local Co"' in screen and 'alt="Global Co"' in screen
    assert 'alt="Global Co"' in campaign_screen and "Local Co" not in campaign_screen
    assert "Local Co" in city_page and "Global Co" in city_page
    assert "Local Co" not in client.get("/c/tw/tokyo").get_data(as_text=True)


def _upload(client, who, **kwargs):
    login(client, EMAILS[who])
    return _post(client, "/organise/tw/london/sponsors", sponsor_body(**kwargs),
                 "/organise/tw/london/programme")


def _logo_src(client, name) -> str:
    html = client.get("/c/tw/london").get_data(as_text=True)
    return re.search(r'<a href="[^"]*" rel="noopener sponsored"><img src="([^"]+)"[^>]*><span>'
                     + re.escape(name), html).group(1)


def test_a_logo_is_served_as_we_encoded_it_never_as_uploaded(app, client, night):
    exif = Image.Exif()
    exif[0x010E] = "secret camera note"
    uploaded = jpeg(size=(2400, 1200), exif=exif.tobytes(), comment=b"hello")
    assert _upload(client, ORGANISER, name="Photo Co", data=uploaded,
                   filename="x.jpg").status_code == 303
    src = _logo_src(client, "Photo Co")
    client = app.test_client()   # a venue screen: nobody signed in (desks are never cached)
    response = client.get(src)
    assert response.status_code == 200
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response.headers["Cache-Control"]
    assert response.data != uploaded and b"secret camera note" not in response.data
    with Image.open(io.BytesIO(response.data)) as served:
        assert served.size == (1200, 600)          # bounded
        assert not served.getexif()
    again = client.get(src, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(src.replace(src.rsplit("/", 1)[1][:8], "0" * 8)).status_code == 404


def test_png_and_webp_logos_keep_their_transparency_as_png(app, client, night):
    assert _upload(client, ORGANISER, name="Leaf", data=webp(), filename="leaf.webp").status_code == 303
    response = client.get(_logo_src(client, "Leaf"))
    assert response.mimetype == "image/png"
    with Image.open(io.BytesIO(response.data)) as served:
        assert served.mode == "RGBA" and served.getpixel((5, 5))[3] == 128


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (40, 40)).save(out, "GIF")
    return out.getvalue()


def _png_with_chunk(kind: bytes, payload: bytes) -> bytes:
    import struct
    import zlib
    data = png()
    chunk = struct.pack(">I", len(payload)) + kind + payload
    chunk += struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    return data[:33] + chunk + data[33:]   # after the IHDR chunk


def _bomb() -> bytes:
    """Small on disk, huge in memory: 6000 × 6000 pixels of one colour."""
    out = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize("data, filename, message", [
    (png() + b"<html><script>alert(1)</script></html>", "polyglot.png", "something after the image"),
    (png() + b"PK\x03\x04" + b"\x00" * 40, "zip.png", "something after the image"),
    (_png_with_chunk(b"tEXt", b"Comment\x00<script>alert(1)</script>"), "text.png", "web page code"),
    (jpeg() + b"<?php echo 1; ?>", "shell.jpg", "something after the image"),
    (_gif(), "logo.png", "must be a PNG, JPEG or WebP"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg",
     "must be a PNG, JPEG or WebP"),
    (b"just text", "logo.png", "must be a PNG, JPEG or WebP"),
    (b"", "logo.png", "Choose a logo file."),
    (png()[:60], "cut.png", "could not be read"),
    (png(size=(8, 8)), "tiny.png", "out of bounds"),
    (_bomb(), "bomb.png", "out of bounds"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * (logos.MAX_BYTES + 10), "huge.png", "too large"),
])
def test_a_bad_logo_is_refused_at_the_field_and_nothing_is_kept(app, client, night, data,
                                                                  filename, message):
    before = _counts(app)
    response = _upload(client, ORGANISER, data=data, filename=filename)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _counts(app) == before


def test_a_request_far_over_the_limit_is_cut_off(app, client, night):
    response = _upload(client, COORDINATOR, data=b"\x89PNG" + b"\x00" * (4 * logos.MAX_BYTES))
    assert response.status_code == 413


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,hi", "//evil.example",
                                  "ftp://files.example", "https://"])
def test_only_web_links(app, client, night, link):
    before = _counts(app)
    response = _upload(client, ORGANISER, link=link)
    assert response.status_code == 422
    assert "must be a web address" in response.get_data(as_text=True)
    assert _counts(app) == before


def test_sponsor_edits_are_audited_and_a_new_logo_gets_a_new_address(app, client, night):
    login(client, EMAILS[COORDINATOR])
    sid = night["campaign_sponsor"]
    old = client.get("/c/tw/screen").get_data(as_text=True)
    old_src = re.search(r'<img src="([^"]+)" alt="Global Co"', old).group(1)
    response = _post(client, f"/coordinate/tw/sponsors/{sid}", {
        f"sponsor{sid}-name": "Global Co", f"sponsor{sid}-link": "https://global.example",
        f"sponsor{sid}-logo": (io.BytesIO(png(colour=(0, 0, 0, 255))), "new.png")},
        "/coordinate/tw/sponsors")
    assert response.status_code == 303
    new = client.get("/c/tw/screen").get_data(as_text=True)
    new_src = re.search(r'<img src="([^"]+)" alt="Global Co"', new).group(1)
    assert new_src != old_src and new_src.endswith(".png")
    assert client.get(old_src).status_code == 404 and client.get(new_src).status_code == 200
    _post(client, f"/coordinate/tw/sponsors/{sid}/delete", {}, "/coordinate/tw/sponsors")
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.actor_id.is_not(None)).order_by(AuditEntry.id)).all()
    assert actions == ["sponsor.edited", "sponsor.removed"]
    assert "sponsor changed" in client.get("/coordinate/tw/audit").get_data(as_text=True)


def test_everything_typed_is_escaped(app, client, night):
    login(client, EMAILS[ORGANISER])
    _post(client, "/organise/tw/london/run-sheet", {
        "new-at_local": "2027-02-12T20:00", "new-title": "<script>alert(1)</script>",
        "new-note": '"><img src=x onerror=alert(1)>'}, "/organise/tw/london/programme")
    _upload(client, ORGANISER, name="<b>Bold</b>")
    for path in ("/c/tw/london", "/c/tw/london/screen", "/organise/tw/london/programme"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html, path
        assert "<b>Bold</b>" not in html, path


def test_a_city_screen_gets_the_run_sheet_live(app, client, night, live):
    live.emit("watch", {"campaign": "tw", "city": "london"}, namespace="/live")
    snapshot, _ = wait_for(live, "leaderboard")
    assert [i["title"] for i in snapshot["run_sheet"]] == ["Welcome"]
    login(client, EMAILS[ORGANISER])
    _post(client, "/organise/tw/london/run-sheet",
          {"new-at_local": "2027-02-12T22:00", "new-title": "The appeal"},
          "/organise/tw/london/programme")
    pushed, _ = wait_for(live, "run_sheet")
    assert pushed["campaign"] == "tw" and pushed["city"] == "london"
    assert [i["title"] for i in pushed["run_sheet"]] == ["Welcome", "The appeal"]
    assert set(pushed["run_sheet"][1]) == {"id", "at", "title", "note"}


def test_a_campaign_watcher_gets_no_run_sheets(app, client, night, live):
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    snapshot, _ = wait_for(live, "leaderboard")
    assert "run_sheet" not in snapshot
    login(client, EMAILS[ORGANISER])
    _post(client, "/organise/tw/london/run-sheet",
          {"new-at_local": "2027-02-12T22:00", "new-title": "The appeal"},
          "/organise/tw/london/programme")
    # The push goes to London's own room only.
    assert not [m for m in live.get_received("/live") if m["name"] == "run_sheet"]


def test_a_gift_among_the_nights_three_largest_is_marked_for_a_cheer(app, client, live, api_token):
    from tests.helpers import post_donation
    live.emit("watch", {"campaign": "tw"}, namespace="/live")
    wait_for(live, "leaderboard")
    sent = {}
    # In the reporting currency (GBP): ¥20,000 is about £100, more than £50 but less than £500.
    for name, city, amount, currency in (("A", "london", "50.00", "GBP"),
                                         ("B", "london", "500.00", "GBP"),
                                         ("C", "tokyo", "20000", "JPY"),
                                         ("D", "london", "10.00", "GBP"),
                                         ("E", "berlin", "400.00", "EUR")):
        post_donation(client, api_token, city=city, amount=amount, currency=currency,
                      donor_name=name, key=name)
        update, _ = wait_for(live, "leaderboard_update", lambda u: any(
            g["donor_name"] == name for g in u["gifts"]))
        gift = next(g for g in update["gifts"] if g["donor_name"] == name)
        sent[name] = gift["id"] in update["largest"]
    # A, B, C are the top three as they come; D is smaller than all three; E passes A and C.
    assert sent == {"A": True, "B": True, "C": True, "D": False, "E": True}


def test_a_city_watcher_hears_only_of_its_own_largest_gifts(app, client, live, api_token):
    from tests.helpers import post_donation
    live.emit("watch", {"campaign": "tw", "city": "tokyo"}, namespace="/live")
    wait_for(live, "leaderboard")
    post_donation(client, api_token, city="tokyo", amount="90000", currency="JPY",
                  donor_name="Big", key="big")
    update, _ = wait_for(live, "leaderboard_update", lambda u: u["gifts"])
    assert update["largest"] == [update["gifts"][0]["id"]]
    post_donation(client, api_token, city="london", amount="900.00", donor_name="L", key="l")
    update, _ = wait_for(live, "leaderboard_update", lambda u: True)
    assert update["largest"] == [] and update["gifts"] == []
