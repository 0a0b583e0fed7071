"""The demo's money, through the real streams: Stripe and PayPal webhook bodies (archived, then
processed exactly as a verified delivery is), an Eventbrite orders export and a bank statement
(imported as an upload is), and cash counted at the venue. So the demo's statement, unassigned
queue, bank review and imports show each stream at work, and the ledger is built the way a
real night builds it.

The bodies carry the fields the processors read, in the providers' shapes; each is archived
with ``meta.demo`` so nobody mistakes it for a real delivery. Their ids are fixed, so a second
start of the demo counts none of the fixed money again (the gifts streaming in are new each
time).
"""
from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .campaigns.models import Campaign, City
from .storage.database import utcnow
from .money import Money, exponent
from .streams.paypal import events as paypal
from .streams.stripe import events as stripe
from .streams.inbox.archive import InboundPayload, archive
from .streams.files.run import import_file
from .streams.files.mappings import save_mapping

DEMO_META = {"demo": True}
BANK_MAPPING = "demo-bank"
DONORS = ["Ada", "Grace", "Linus", "Margaret", "Tim", "Yukihiro", "Guido", "Barbara", "Ken",
          "Radia", "Hedy", "Alan", "Katherine", "Dennis", "Frances", "Sophie", "Aiko", "Priya"]
MESSAGES = ["Clean water for everyone!", "Go team!", "From the back of the room", "Cheers!",
            None, None, "Proud to help", "Let's beat Berlin", "🎉", None]


def _process(session: Session, stream, body: dict, external_id: str, campaign_id: int) -> bool:
    """Archive a body as its webhook would, then process it; a body archived before (a second
    demo start) is left alone. False when it was."""
    seen = session.scalar(select(InboundPayload.id).where(
        InboundPayload.stream == stream.STREAM, InboundPayload.external_id == external_id))
    if seen is not None:
        return False
    payload = archive(session, stream.STREAM, json.dumps(body).encode(),
                      headers={"Content-Type": "application/json"},
                      content_type="application/json", external_id=external_id,
                      campaign_id=campaign_id, meta=DEMO_META)
    stream.process(session, payload)
    return True


def _stamp(when: dt.datetime) -> int:
    return int(when.replace(tzinfo=dt.timezone.utc).timestamp())


def stripe_gift(session: Session, campaign: Campaign, city: City | None, money: Money, key: str,
                when: dt.datetime, donor: str | None = None, message: str | None = None,
                fee_minor: int | None = None) -> bool:
    """A paid Checkout Session (city None: the campaign's unassigned queue); with a fee, the
    charge that follows it, its balance transaction expanded as Stripe can send it."""
    metadata = {"campaign": campaign.slug}
    if city is not None:
        metadata["city"] = city.slug
    if donor:
        metadata["donor_name"] = donor
    if message:
        metadata["message"] = message
    currency = money.currency.lower()
    event = {"id": f"evt_demo_cs_{key}", "object": "event", "type": "checkout.session.completed",
             "api_version": "2024-06-20", "created": _stamp(when), "livemode": False,
             "data": {"object": {
                 "id": f"cs_demo_{key}", "object": "checkout.session", "mode": "payment",
                 "payment_status": "paid", "status": "complete", "amount_total": money.minor,
                 "amount_subtotal": money.minor, "currency": currency,
                 "payment_intent": f"pi_demo_{key}", "metadata": metadata, "livemode": False}}}
    new = _process(session, stripe, event, event["id"], campaign.id)
    if fee_minor is None:
        return new
    charge = {"id": f"evt_demo_ch_{key}", "object": "event", "type": "charge.succeeded",
              "api_version": "2024-06-20", "created": _stamp(when), "livemode": False,
              "data": {"object": {
                  "id": f"ch_demo_{key}", "object": "charge", "amount": money.minor,
                  "currency": currency, "paid": True, "status": "succeeded",
                  "payment_intent": f"pi_demo_{key}",
                  "balance_transaction": {
                      "id": f"txn_demo_{key}", "object": "balance_transaction",
                      "amount": money.minor, "currency": currency, "fee": fee_minor,
                      "net": money.minor - fee_minor, "type": "charge",
                      "source": f"ch_demo_{key}"}}}}
    return _process(session, stripe, charge, charge["id"], campaign.id) or new


def _stripe_event(kind: str, key: str, when: dt.datetime, obj: dict) -> dict:
    return {"id": f"evt_demo_{key}", "object": "event", "type": kind, "api_version": "2024-06-20",
            "created": _stamp(when), "livemode": False, "data": {"object": obj}}


def _value(money: Money) -> str:
    places = exponent(money.currency)
    return str(Decimal(money.minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def paypal_gift(session: Session, campaign: Campaign, city: City, money: Money, key: str,
                when: dt.datetime, fee_minor: int | None = None) -> bool:
    """PAYMENT.CAPTURE.COMPLETED for an order whose custom_id is CAMPAIGN/CITY."""
    amount = {"currency_code": money.currency, "value": _value(money)}
    capture = {"id": f"DEMO{key.upper()}", "status": "COMPLETED", "amount": amount,
               "custom_id": f"{campaign.slug}/{city.slug}", "final_capture": True,
               "create_time": when.replace(tzinfo=dt.timezone.utc).isoformat(),
               "supplementary_data": {"related_ids": {"order_id": f"ORDER-DEMO-{key.upper()}"}}}
    if fee_minor is not None:
        fee = Money(fee_minor, money.currency)
        capture["seller_receivable_breakdown"] = {
            "gross_amount": amount,
            "paypal_fee": {"currency_code": money.currency, "value": _value(fee)},
            "net_amount": {"currency_code": money.currency,
                           "value": _value(Money(money.minor - fee_minor, money.currency))}}
    event = {"id": f"WH-DEMO-{key.upper()}", "event_version": "1.0",
             "create_time": capture["create_time"], "resource_type": "capture",
             "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "Payment completed",
             "resource": capture}
    return _process(session, paypal, event, event["id"], campaign.id)


def _cities(session: Session, campaign: Campaign) -> dict[str, City]:
    return {c.slug: c for c in session.scalars(select(City).where(City.campaign_id == campaign.id))}


def _major(city: City, amount: int) -> Money:
    return Money(amount * 10 ** exponent(city.currency), city.currency)


def ensure_streams(session: Session, campaign: Campaign) -> None:
    """The fixed money of the demo, one piece per thing a coordinator deals with. Commits (the
    imports commit as they go)."""
    cities = _cities(session, campaign)
    now = utcnow()
    earlier = now - dt.timedelta(hours=5)
    london, berlin, tokyo, new_york = (cities[s] for s in ("london", "berlin", "tokyo", "new-york"))

    # Stripe: gifts with their fees, one refunded in part, one disputed, one with no city.
    stripe_gift(session, campaign, london, _major(london, 50), "london-1", earlier, "Ada",
                "For clean water", fee_minor=95)
    stripe_gift(session, campaign, new_york, _major(new_york, 120), "ny-1", earlier, "Grace",
                fee_minor=378)
    stripe_gift(session, campaign, berlin, _major(berlin, 40), "berlin-1", earlier, "Linus",
                fee_minor=81)
    stripe_gift(session, campaign, None, _major(london, 30), "no-city-1", earlier, "Tim",
                "Wherever it helps most")
    refund = {"id": "ch_demo_ny-1", "object": "charge", "amount": 12000, "amount_refunded": 2000,
              "currency": "usd", "payment_intent": "pi_demo_ny-1", "refunded": False,
              "refunds": {"object": "list", "data": [{
                  "id": "re_demo_ny-1", "object": "refund", "amount": 2000, "currency": "usd",
                  "charge": "ch_demo_ny-1", "payment_intent": "pi_demo_ny-1",
                  "status": "succeeded"}]}}
    _process(session, stripe, _stripe_event("charge.refunded", "refund-ny-1", now, refund),
             "evt_demo_refund-ny-1", campaign.id)
    dispute = {"id": "dp_demo_berlin-1", "object": "dispute", "amount": 4000, "currency": "eur",
               "charge": "ch_demo_berlin-1", "payment_intent": "pi_demo_berlin-1",
               "reason": "fraudulent", "status": "needs_response"}
    for kind in ("charge.dispute.created", "charge.dispute.funds_withdrawn"):
        _process(session, stripe, _stripe_event(kind, f"{kind}-berlin-1", now, dispute),
                 f"evt_demo_{kind}-berlin-1", campaign.id)

    # PayPal, with PayPal's fee.
    paypal_gift(session, campaign, berlin, _major(berlin, 25), "berlin-pp-1", earlier, fee_minor=122)
    paypal_gift(session, campaign, tokyo, _major(tokyo, 5000), "tokyo-pp-1", earlier, fee_minor=215)
    session.commit()

    # Ticket sales: London's Eventbrite orders export.
    _import(session, campaign, _eventbrite_export(), "eventbrite", city=london,
            filename="london-eventbrite-orders.csv")
    # The bank: references on the cities, and a statement with a credit for each of the cases.
    for n, slug in enumerate(("london", "berlin", "tokyo"), 1):
        cities[slug].bank_reference = cities[slug].bank_reference or f"TW-{n:04d}"
    save_mapping(session, campaign, BANK_MAPPING, kind="bank", date_column="Booking Date",
                 amount_column="Amount", currency_column="Currency",
                 reference_column="Reference", donor_column="Counterparty",
                 external_id_column="Transaction ID")
    session.commit()
    _import(session, campaign, _bank_statement(now.date()), "csv", mapping_name=BANK_MAPPING,
            filename="campaign-account.csv")


def _import(session: Session, campaign: Campaign, body: bytes, fmt: str, **options) -> None:
    seen = session.scalar(select(InboundPayload.id).where(
        InboundPayload.campaign_id == campaign.id,
        InboundPayload.meta["filename"].as_string() == options["filename"]))
    if seen is None:
        import_file(session, campaign, body, fmt, via="cli", actor="twestival demo", **options)


EVENTBRITE_HEADER = ("Order #,Order Date,First Name,Last Name,Email,Quantity,Price Tier,"
                     "Ticket Type,Attendee #,Group,Order Type,Currency,Total Paid,Fees Paid,"
                     "Eventbrite Fees,Eventbrite Payment Processing,Attendee Status")


def _eventbrite_export() -> bytes:
    """Orders of one to three tickets (one row per attendee, as Eventbrite exports), one
    refunded."""
    rows, attendee = [EVENTBRITE_HEADER], 700_000_000
    for order in range(12):
        people = 1 + order % 3
        status = "Refunded" if order == 7 else "Attending"
        for _ in range(people):
            attendee += 1
            rows.append(f"{800_000_000 + order},01/{10 + order:02d}/27 19:{order:02d},"
                        f"Guest{attendee},Demo,guest{attendee}@example.org,1,,General Admission,"
                        f"{attendee},,Eventbrite Completed,GBP,15.00,1.99,1.26,0.73,{status}")
    return ("\n".join(rows) + "\n").encode()


def _bank_statement(day: dt.date) -> bytes:
    """Gifts paid by transfer naming a city's reference (in the bank's own spelling), one naming
    none (it waits for review), a Stripe payout (money already counted) and a debit."""
    lines = ["Booking Date,Amount,Currency,Reference,Counterparty,Transaction ID",
             f"{day},120.00,GBP,Twestival tw 0001 London raffle,Pub quiz team,DEMOTX0001",
             f"{day},75.00,GBP,TW-0002 Berlin gift,M. Schmidt,DEMOTX0002",
             f"{day},60.00,GBP,tw-0003 Tokyo,K. Tanaka,DEMOTX0003",
             f"{day},45.00,GBP,Donation for the night,J. Bloggs,DEMOTX0004",
             f"{day},1520.40,GBP,STRIPE PAYOUT po_demo0000000001,Stripe Payments UK,DEMOTX0005",
             f"{day},-250.00,GBP,Sound system hire,Loud Ltd,DEMOTX0006"]
    return ("\n".join(lines) + "\n").encode()


def random_gift(rng: random.Random, session: Session, campaign: Campaign, typical: dict[str, int],
                when: dt.datetime | None = None) -> bool:
    """One gift as donors give online: by card most of the time, otherwise with PayPal. Its
    ids come from ``rng``; False when a gift with them was there already."""
    city = rng.choice(list(_cities(session, campaign).values()))
    major = max(1, int(rng.lognormvariate(0, 0.7) * typical.get(city.slug, 20)))
    money = _major(city, major)
    key = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
    when = when or utcnow()
    if rng.random() < 0.8:
        donor = None if rng.random() < 0.2 else rng.choice(DONORS)
        return stripe_gift(session, campaign, city, money, key, when, donor, rng.choice(MESSAGES))
    return paypal_gift(session, campaign, city, money, key, when)
