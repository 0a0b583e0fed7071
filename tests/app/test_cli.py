"""The operator's commands, through Click's runner."""
from sqlalchemy import select, update

from tests.helpers import post_donation
from twestival.extensions import db


def test_campaign_city_token_flow(runner, client):
    ok = runner.invoke(args=["campaign", "create", "gb26", "--name", "Twestival UK",
                             "--currency", "GBP", "--date", "2026-02-12", "--charity", "Water"])
    assert ok.exit_code == 0, ok.output
    ok = runner.invoke(args=["city", "add", "gb26", "leeds", "--name", "Leeds", "--country", "GB",
                             "--currency", "GBP", "--timezone", "Europe/London",
                             "--target", "2500.00"])
    assert ok.exit_code == 0, ok.output
    token = runner.invoke(args=["token", "create", "gb26", "--city", "leeds"])
    assert token.exit_code == 0
    secret = token.stdout.strip().splitlines()[0]
    assert secret.startswith("tw_")
    assert post_donation(client, secret, campaign="gb26", city="leeds").status_code == 201
    board = client.get("/api/v1/campaigns/gb26/leaderboard").get_json()
    assert board["cities"][0]["target_minor"] == 250000
    assert runner.invoke(args=["reconcile", "gb26"]).exit_code == 0


def test_token_is_stored_hashed(app, runner, seed):
    from twestival.accounts.models import ApiToken
    secret = runner.invoke(args=["token", "create", "tw"]).stdout.strip()
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).one()
        assert secret not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64


def test_errors_are_one_line_on_stderr_and_write_nothing(app, runner, seed):
    from twestival.campaigns.models import City
    cases = [
        (["campaign", "create", "tw", "--name", "Again", "--currency", "GBP"], "already exists"),
        (["campaign", "create", "New One", "--name", "x", "--currency", "GBP"], "lowercase"),
        (["campaign", "create", "x2", "--name", "x", "--currency", "EURO"], "three-letter"),
        (["city", "add", "tw", "osaka", "--name", "Osaka", "--country", "JP", "--currency", "JPY",
          "--timezone", "Asia/Tokyo", "--target", "1000.50"], "no decimal places"),
        (["city", "add", "tw", "osaka", "--name", "Osaka", "--country", "QQ", "--currency", "JPY",
          "--timezone", "Asia/Tokyo", "--target", "1000"], "country"),
        (["city", "add", "tw", "osaka", "--name", "Osaka", "--country", "JP", "--currency", "JPY",
          "--timezone", "Mars/Olympus", "--target", "1000"], "time zone"),
        (["city", "add", "nope", "osaka", "--name", "Osaka", "--country", "JP", "--currency", "JPY",
          "--timezone", "Asia/Tokyo", "--target", "1000"], "no campaign"),
        (["user", "create", "o@example.org", "--name", "O", "--role", "organiser",
          "--campaign", "tw"], "one city"),
        (["user", "create", "not-an-email", "--name", "O", "--role", "coordinator",
          "--campaign", "tw"], "not an email"),
        (["token", "create", "tw", "--city", "atlantis"], "no city"),
    ]
    for args, fragment in cases:
        result = runner.invoke(args=args)
        assert result.exit_code == 2, (args, result.output)
        assert fragment in result.stderr, (args, result.stderr)
        assert result.stderr.strip().count("\n") == 0
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(City)) == 3
        from twestival.accounts.models import User
        assert db.session.scalar(select(db.func.count()).select_from(User)) == 0


def test_user_create_prints_a_working_set_password_link(app, runner, seed):
    result = runner.invoke(args=["user", "create", "Coord@Example.org", "--name", "Coord",
                                 "--role", "coordinator", "--campaign", "tw"])
    assert result.exit_code == 0, result.output
    link = result.stdout.split("link (valid 7 days, once): ")[1].strip()
    path = link.replace("http://localhost", "")
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and b"coord@example.org" in page.data
    csrf = page.data.split(b'name="csrf_token" type="hidden" value="')[1].split(b'"')[0].decode()
    done = client.post(path, data={"csrf_token": csrf, "password": "correct horse battery",
                                   "confirm": "correct horse battery"})
    assert done.status_code == 302
    assert client.get(path).status_code == 400        # used once, then dead
    fresh = app.test_client()
    login = fresh.get("/login")
    csrf = login.data.split(b'name="csrf_token" type="hidden" value="')[1].split(b'"')[0].decode()
    ok = fresh.post("/login", data={"csrf_token": csrf, "email": "coord@example.org",
                                    "password": "correct horse battery"})
    assert ok.status_code == 302


def test_reconcile_exits_1_on_drift(app, runner, client, api_token):
    from twestival.ledger import CityTotal
    post_donation(client, api_token, amount="3.00")
    assert runner.invoke(args=["reconcile", "tw"]).exit_code == 0
    with app.app_context():
        db.session.execute(update(CityTotal).values(donations=CityTotal.donations + 1))
        db.session.commit()
    result = runner.invoke(args=["reconcile", "tw"])
    assert result.exit_code == 1
    assert "DRIFT city london: donations stored 2, entries say 1" in result.stderr


def test_demo_seeds_cities_in_many_currencies(app, runner):
    import re
    result = runner.invoke(args=["demo", "--no-serve", "--seed", "40"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    board = client.get("/api/v1/campaigns/twestival-2026/leaderboard").get_json()
    assert len(board["cities"]) >= 12
    assert len({r["currency"] for r in board["cities"]}) >= 5
    assert "JPY" in {r["currency"] for r in board["cities"]}
    # 40 seeded gifts, three cash counts, and the demo's fixed money in cities (Stripe 3,
    # PayPal 2, Eventbrite orders 12, bank credits matched by reference 3)
    assert sum(r["donations"] for r in board["cities"]) == 40 + 3 + 20
    assert board["total_provisional_minor"] > 0
    assert len(client.get("/api/v1/campaigns/twestival-2026/history").get_json()["points"]) >= 4
    assert runner.invoke(args=["reconcile", "twestival-2026"]).exit_code == 0

    email, password = re.search(r"(coordinator@demo\.twestival\.org)\s+(\S+)", result.output).groups()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    assert client.post("/login", data={"csrf_token": csrf, "email": email,
                                       "password": password}).status_code == 302
    assert client.get("/coordinate/twestival-2026").status_code == 200

    statement = client.get("/coordinate/twestival-2026/statement?format=csv").get_data(as_text=True)
    history = client.get("/api/v1/campaigns/twestival-2026/history").get_json()["points"]
    again = runner.invoke(args=["demo", "--no-serve", "--seed", "40"])   # a rerun adds nothing
    assert again.exit_code == 0, again.output
    board = client.get("/api/v1/campaigns/twestival-2026/leaderboard").get_json()
    assert sum(r["donations"] for r in board["cities"]) == 63
    # A start gives the demo accounts new passwords, which ends the sessions of the old ones.
    assert client.get("/coordinate/twestival-2026").status_code == 302
    password = re.search(r"coordinator@demo\.twestival\.org\s+(\S+)", again.output).group(1)
    assert client.post("/login", data={"csrf_token": csrf, "email": email,
                                       "password": password}).status_code == 302
    assert client.get("/coordinate/twestival-2026/statement?format=csv").get_data(
        as_text=True) == statement
    # Seeding 40 gifts again would add four chart points; the live publisher may add one of
    # its own for the rerun's commits.
    assert len(client.get("/api/v1/campaigns/twestival-2026/history").get_json()["points"]) \
        <= len(history) + 1


def test_demo_money_comes_in_through_every_stream(app, runner):
    """The demo's money is not a stream of its own: it comes through Stripe and PayPal webhook
    processing, an Eventbrite import, a bank statement and cash counts, so the coordinator's
    statement, unassigned queue and imports show each at work."""
    import csv
    import io
    import re
    result = runner.invoke(args=["demo", "--no-serve", "--seed", "0"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    email, password = re.search(r"(coordinator@demo\.twestival\.org)\s+(\S+)", result.output).groups()
    login = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    client.post("/login", data={"csrf_token": csrf, "email": email, "password": password})
    rows = list(csv.DictReader(io.StringIO(client.get(
        "/coordinate/twestival-2026/statement?format=csv").get_data(as_text=True))))
    by = {(r["city"], r["stream"], r["currency"]): r for r in rows}
    assert {r["stream"] for r in rows} == {"stripe", "paypal", "ticketing", "bank", "cash"}
    assert by["London", "stripe", "GBP"]["fees"] == "0.95"
    assert by["New York", "stripe", "USD"]["refunds"] == "-20.00"
    assert by["Berlin", "stripe", "EUR"]["chargebacks"] == "-40.00"
    assert by["Berlin", "paypal", "EUR"]["fees"] == "1.22"
    assert by["London", "ticketing", "GBP"]["gross"] == "360.00"   # 24 tickets at £15
    assert by["Tokyo", "bank", "GBP"]["gross"] == "60.00"          # matched by "tw-0003"
    assert by["unassigned", "stripe", "GBP"]["gross"] == "30.00"   # a gift naming no city
    queue = client.get("/coordinate/twestival-2026/unassigned").get_data(as_text=True)
    assert "Donation for the night" in queue                        # a credit naming no city
    assert runner.invoke(args=["reconcile", "twestival-2026"]).exit_code == 0
