"""Random interleavings of everything that moves money, against a model that cannot double
count: Stripe gifts, refunds and disputes (in any order, each delivered any number of times),
JSON API gifts and their retries, ticket imports imported again, cash counts (sent again from
the phone's queue) and their confirmation, replays, and erasing a donor's personal data. After every step each city's total on
the public leaderboard equals the model's, its provisional money too, and `twestival
reconcile` and `twestival verify` (the hash chain) are clean (Hypothesis's stateful
testing)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (Bundle, RuleBasedStateMachine, invariant, rule,
                                 run_state_machine_as_test)

from tests.conftest import make_app
from tests.helpers import post_donation, published
from tests.imports_helpers import run_import
from tests.payments import (STRIPE_CONFIG, checkout_event, dispute_event, post_stripe,
                            refund_event)
from twestival.extensions import db

CITIES = {"london": "gbp", "tokyo": "jpy"}
EVENTBRITE_HEADER = ["Order #", "Order Date", "First Name", "Last Name", "Currency",
                     "Total Paid", "Eventbrite Fees", "Eventbrite Payment Processing",
                     "Attendee #", "Attendee Status"]


class Gift:
    """A Stripe Checkout gift as the model sees it: counted once its session has landed, less
    what was refunded or disputed (whenever those arrived)."""

    def __init__(self, n: int, city: str, amount: int):
        self.n, self.city, self.amount = n, city, amount
        self.landed = False
        self.refunds: list[tuple[str, int]] = []
        self.disputed = False

    @property
    def counted(self) -> int:
        if not self.landed:
            return 0
        return self.amount - sum(a for _r, a in self.refunds) - (self.amount if self.disputed else 0)


class Ledger(RuleBasedStateMachine):
    template = None      # the migrated database each run starts from (set by the test)
    workdir = None

    gifts = Bundle("gifts")
    sent = Bundle("sent")

    def __init__(self):
        super().__init__()
        path = self.workdir / f"{uuid.uuid4().hex}.db"
        shutil.copy(self.template, path)
        self.app = make_app(path, **STRIPE_CONFIG)
        self.client = self.app.test_client()
        self.runner = self.app.test_cli_runner()
        self._seed()
        self.n = 0
        self.all_gifts: list[Gift] = []
        self.other = {city: 0 for city in CITIES}   # API gifts, ticket sales and cash
        self.provisional = {city: 0 for city in CITIES}
        self.counts: list[tuple[int, str, int]] = []   # cash entries: (id, city, amount)

    def _seed(self):
        from twestival.accounts.service import create_token
        from twestival.campaigns.service import add_city, create_campaign
        with self.app.app_context():
            campaign = create_campaign(db.session, "tw", name="Twestival Test", currency="GBP")
            add_city(db.session, campaign, "london", name="London", country="GB",
                     currency="GBP", timezone="Europe/London", target="2500.00")
            add_city(db.session, campaign, "tokyo", name="Tokyo", country="JP",
                     currency="JPY", timezone="Asia/Tokyo", target="300000")
            _row, self.token = create_token(db.session, campaign)
            db.session.commit()

    def teardown(self):
        self.app.extensions["twestival.live"].stop()
        with self.app.app_context():
            db.engine.dispose()

    def _send(self, event: dict) -> bytes:
        body = json.dumps(event).encode()
        assert post_stripe(self.client, body).status_code == 200
        return body

    # --- Stripe -------------------------------------------------------------------------------

    @rule(target=gifts, city=st.sampled_from(sorted(CITIES)), amount=st.integers(100, 50_000))
    def plan_gift(self, city, amount):
        self.n += 1
        gift = Gift(self.n, city, amount)
        self.all_gifts.append(gift)
        return gift

    @rule(target=sent, gift=gifts)
    def checkout_completes(self, gift):
        body = self._send(checkout_event(f"cs_{gift.n}", f"pi_{gift.n}", gift.amount,
                                         CITIES[gift.city], city=gift.city))
        gift.landed = True
        return body

    @rule(target=sent, gift=gifts, share=st.integers(1, 100))
    def refund(self, gift, share):
        """A partial refund (Stripe lists every refund of the charge so far), even before the
        gift itself has arrived: it waits for it."""
        left = gift.amount - sum(a for _r, a in gift.refunds)
        if gift.disputed or left <= 0:
            return b""
        gift.refunds.append((f"re_{gift.n}_{len(gift.refunds)}", max(1, left * share // 100)))
        return self._send(refund_event(f"ch_{gift.n}", f"pi_{gift.n}", list(gift.refunds),
                                       CITIES[gift.city], amount=gift.amount))

    @rule(target=sent, gift=gifts)
    def dispute(self, gift):
        """A chargeback of an unrefunded gift: created and funds withdrawn count once."""
        if gift.refunds:
            return b""
        gift.disputed = True
        return self._send(dispute_event("dispute.funds_withdrawn", f"ch_{gift.n}",
                                        f"pi_{gift.n}", gift.amount, CITIES[gift.city],
                                        status="needs_response"))

    @rule(body=sent)
    def redeliver(self, body):
        if body:
            assert post_stripe(self.client, body).status_code == 200

    # --- the other streams ----------------------------------------------------------------------

    @rule(city=st.sampled_from(sorted(CITIES)), major=st.integers(1, 500),
          retries=st.integers(0, 2))
    def api_gift(self, city, major, retries):
        currency = CITIES[city].upper()
        key = uuid.uuid4().hex
        for attempt in range(1 + retries):
            response = post_donation(self.client, self.token, city=city, key=key,
                                     amount=str(major), currency=currency)
            assert response.status_code == (201 if attempt == 0 else 200)
        self.other[city] += major * (100 if currency == "GBP" else 1)

    @rule(orders=st.lists(st.integers(1, 40), min_size=1, max_size=4), again=st.booleans())
    def ticket_export(self, orders, again):
        """An Eventbrite export for London, imported (and maybe imported again)."""
        self.n += 1
        rows = [[self.n * 100 + i, "02/12/26 18:30", "Ada", "L", "GBP", f"{pounds}.50", "1.00",
                 "0.50", self.n * 1000 + i, "Attending"] for i, pounds in enumerate(orders)]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EVENTBRITE_HEADER)
        writer.writerows(rows)
        for _ in range(2 if again else 1):
            run_import(self.app, None, "eventbrite", city="london", body=out.getvalue().encode())
        self.other["london"] += sum(pounds * 100 + 50 for pounds in orders)

    @rule(city=st.sampled_from(sorted(CITIES)), major=st.integers(1, 300),
          resent=st.booleans())
    def cash_count(self, city, major, resent):
        """Cash counted at the venue: provisional until confirmed; the phone's offline queue
        may send the same count twice."""
        from twestival.campaigns.service import get_campaign, get_city
        from twestival.money import Money
        from twestival.streams import cash
        currency = CITIES[city].upper()
        minor = major * (100 if currency == "GBP" else 1)
        count = cash.CashCount(key=uuid.uuid4().hex, amount=Money(minor, currency),
                               kind="cash", counted_by="Ada", witness="Grace")
        with self.app.app_context():
            place = get_city(db.session, get_campaign(db.session, "tw"), city)
            for _ in range(2 if resent else 1):
                entry_id = cash.record_count(db.session, place, count, by_user_id=None).entry.id
                db.session.commit()
        self.counts.append((entry_id, city, minor))
        self.other[city] += minor
        self.provisional[city] += minor

    @rule(data=st.data())
    def confirm_cash(self, data):
        """A coordinator confirms a count (perhaps one confirmed already)."""
        if not self.counts:
            return
        from twestival.campaigns.service import get_campaign
        from twestival.streams import cash
        entry_id, city, minor = data.draw(st.sampled_from(self.counts))
        with self.app.app_context():
            if cash.confirm_count(db.session, get_campaign(db.session, "tw"), entry_id,
                                  by_user_id=None):
                self.provisional[city] -= minor
            db.session.commit()

    @rule()
    def erase_donor(self):
        """The Stripe sample's donor asks to be forgotten: the money stays exactly as it was.
        (Refused whole while a payload naming them still waits for its gift.)"""
        result = self.runner.invoke(args=["donor", "erase", "stripe@example.com"])
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output

    @rule()
    def replay(self):
        result = self.runner.invoke(args=["replay", "tw"])
        assert "Traceback" not in result.output

    # --- what must hold after every step --------------------------------------------------------

    @invariant()
    def totals_match_the_model(self):
        published(self.client.application)
        rows = {row["slug"]: row for row in
                self.client.get("/api/v1/campaigns/tw/leaderboard").get_json()["cities"]}
        for city in CITIES:
            expected = self.other[city] + sum(g.counted for g in self.all_gifts
                                              if g.city == city)
            assert rows[city]["raised_minor"] == expected, city
            assert rows[city]["provisional_minor"] == self.provisional[city], city

    @invariant()
    def reconcile_and_verify_are_clean(self):
        for command in ("reconcile", "verify"):
            result = self.runner.invoke(args=[command, "tw"])
            assert result.exit_code == 0, result.output


def test_random_interleavings_count_everything_exactly_once(template_db, tmp_path):
    Ledger.template, Ledger.workdir = template_db, tmp_path
    run_state_machine_as_test(Ledger, settings=settings(
        max_examples=12, stateful_step_count=25, deadline=None,
        suppress_health_check=list(HealthCheck)))
