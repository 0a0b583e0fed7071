"""The gift wall: gifts in the snapshot and in updates, the gifts API, what is never shown."""
import time

from tests.helpers import post_donation, wait_for


def watch(live, campaign="tw", city=None):
    live.emit("watch", {"campaign": campaign} | ({"city": city} if city else {}), namespace="/live")
    snapshot, _ = wait_for(live, "leaderboard")
    return snapshot


def test_snapshot_and_update_carry_gifts(client, live, api_token):
    post_donation(client, api_token, city="london", amount="12.50", donor_name="Ada",
                  message="For the kids!")
    post_donation(client, api_token, city="tokyo", amount="5000", currency="JPY",
                  donor_name="Secret", message="shh", anonymous=True)
    snap = watch(live)
    gifts = snap["gifts"]
    assert [g["city"] for g in gifts] == ["tokyo", "london"]          # newest first
    tokyo, london = gifts
    assert london == {"id": london["id"], "city": "london", "amount_minor": 1250,
                      "currency": "GBP", "donor_name": "Ada", "message": "For the kids!",
                      "at": london["at"], "matched": False}
    assert london["at"].endswith("Z")
    assert tokyo["amount_minor"] == 5000 and tokyo["currency"] == "JPY"
    assert tokyo["donor_name"] is None and tokyo["message"] is None   # anonymous

    time.sleep(0.3)
    post_donation(client, api_token, city="berlin", amount="7.00", currency="EUR",
                  donor_name="Max", message="Prost")
    update, _ = wait_for(live, "leaderboard_update", lambda u: any(
        g["donor_name"] == "Max" for g in u["gifts"]))
    assert [g["city"] for g in update["gifts"]] == ["berlin"]
    assert update["gifts"][0]["amount_minor"] == 700 and update["gifts"][0]["currency"] == "EUR"


def test_each_gift_is_sent_in_one_update_only(client, live, api_token):
    watch(live)
    seen = []
    for i in range(3):
        post_donation(client, api_token, amount="1.00", donor_name=f"D{i}")
        update, _ = wait_for(live, "leaderboard_update", lambda u: any(
            g["donor_name"] == f"D{i}" for g in u["gifts"]))
        seen += [g["id"] for g in update["gifts"]]
        time.sleep(0.3)
    assert len(seen) == len(set(seen)) == 3


def test_a_burst_keeps_the_largest_and_the_newest(app, client, live, api_token):
    watch(live)
    # A long coalescing window: the first gift opens it, the next 30 wait for one update.
    app.extensions["twestival.live"].interval = 2.0
    post_donation(client, api_token, amount="1.00", donor_name="first")
    wait_for(live, "leaderboard_update", lambda u: len(u["gifts"]) == 1)
    for i in range(30):
        amount = "500.00" if i == 3 else f"{1 + i}.00"
        post_donation(client, api_token, amount=amount, donor_name=f"N{i}", key=f"b{i}")
    update, _ = wait_for(live, "leaderboard_update", lambda u: len(u["gifts"]) > 0)
    names = [g["donor_name"] for g in update["gifts"]]
    assert len(names) == 20
    assert "N3" in names and "N29" in names         # the largest, the newest
    ids = [g["id"] for g in update["gifts"]]
    assert ids == sorted(ids, reverse=True)


def test_tickets_bank_and_cash_names_never_appear(app, client, api_token):
    from twestival.campaigns.service import get_campaign
    from twestival.extensions import db
    from twestival.ledger.record import NewEntry, record
    from twestival.money import Money
    import datetime as dt
    with app.app_context():
        camp = get_campaign(db.session, "tw")
        city = camp.cities[1]   # london (by name: berlin, london, tokyo)
        for stream in ("ticketing", "bank", "cash"):
            record(db.session, NewEntry(
                campaign_id=camp.id, city_id=city.id, stream=stream, external_id=f"x-{stream}",
                amount=Money(1000, "GBP"), occurred_at=dt.datetime.now(dt.timezone.utc),
                donor_name=f"Buyer {stream}", anonymous=False))
        db.session.commit()
    body = client.get("/api/v1/campaigns/tw/gifts").get_data(as_text=True)
    assert "Buyer" not in body
    assert client.get("/api/v1/campaigns/tw/gifts").get_json() == {"gifts": []}


def test_gifts_api_pages_and_filters_with_cors(client, api_token):
    for i in range(5):
        post_donation(client, api_token, city="london" if i % 2 else "tokyo",
                      amount="1.00" if i % 2 else "100", currency="GBP" if i % 2 else "JPY",
                      donor_name=f"G{i}")
    response = client.get("/api/v1/campaigns/tw/gifts?limit=2")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    first = response.get_json()["gifts"]
    assert [g["donor_name"] for g in first] == ["G4", "G3"]
    rest = client.get(f"/api/v1/campaigns/tw/gifts?before={first[-1]['id']}").get_json()["gifts"]
    assert [g["donor_name"] for g in rest] == ["G2", "G1", "G0"]
    london = client.get("/api/v1/campaigns/tw/gifts?city=london").get_json()["gifts"]
    assert [g["donor_name"] for g in london] == ["G3", "G1"]
    for path in ("leaderboard", "history"):
        assert client.get(f"/api/v1/campaigns/tw/{path}").headers[
            "Access-Control-Allow-Origin"] == "*"


def test_gifts_api_refuses_bad_arguments(client, seed):
    for query, status in (("limit=0", 422), ("limit=abc", 422), ("limit=101", 422),
                          ("before=-3", 422), ("city=atlantis", 404)):
        response = client.get(f"/api/v1/campaigns/tw/gifts?{query}")
        assert response.status_code == status, query
        assert "error" in response.get_json()
    assert client.get("/api/v1/campaigns/nope/gifts").status_code == 404


def test_messages_are_capped_and_control_characters_dropped(client, api_token):
    post_donation(client, api_token, donor_name="A\u202eB\x07C", message="x" * 1000 + "\n\ty")
    gift = client.get("/api/v1/campaigns/tw/gifts").get_json()["gifts"][0]
    assert gift["donor_name"] == "A B C"
    assert len(gift["message"]) == 280 and gift["message"].endswith("…")
