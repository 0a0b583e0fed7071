"""A board longer than the rows its page renders (public.BOARD_ROWS): the seed's three cities
and 64 more in currencies the server and the browser write differently (HUF, ISK, JPY, CHF),
with gifts whose shares round half to even (12.50 of 1,000.00: 1.25 %)."""
from __future__ import annotations

from decimal import Decimal

from tests.helpers import post_donation, published
from twestival.extensions import db

MORE = 64
TOTAL = MORE + 3
KINDS = [("GBP", "1000.00", "12.50"), ("HUF", "400000.00", "1234.50"), ("ISK", "150000", "1999"),
         ("JPY", "100000", "1350"), ("EUR", "2000.00", "30.00"), ("CHF", "800.00", "0.50"),
         ("HUF", "400000.00", "1234.00"), ("USD", "1000.00", "150.05")]


def add_cities(app, client, api_token, gifts: int = 24) -> list[str]:
    """Slugs of the cities added, the first ``gifts`` of them given one gift each."""
    from twestival.campaigns.service import add_city, get_campaign
    from twestival.ledger.fx import ensure_rates
    slugs = []
    with app.app_context():
        for currency in {kind[0] for kind in KINDS}:
            ensure_rates(db.session, currency)
        camp = get_campaign(db.session, "tw")
        for i in range(MORE):
            currency, target, _gift = KINDS[i % len(KINDS)]
            slugs.append(f"city-{i:03d}")
            add_city(db.session, camp, slugs[-1], name=f"City {i:03d}", country="GB",
                     currency=currency, timezone="Europe/London", target=target)
        db.session.commit()
    for i, slug in enumerate(slugs[:gifts]):
        currency, _target, amount = KINDS[i % len(KINDS)]
        response = post_donation(client, api_token, city=slug, amount=amount, currency=currency)
        assert response.status_code == 201, response.get_data(as_text=True)
    published(app)
    return slugs


def big_gift(slug: str) -> tuple[str, str]:
    """(currency, amount): twice the city's target, enough to lead the board."""
    seed = {"london": ("GBP", "2500.00"), "tokyo": ("JPY", "300000"), "berlin": ("EUR", "2000.00")}
    currency, target = seed.get(slug) or KINDS[int(slug.rsplit("-", 1)[1]) % len(KINDS)][:2]
    return currency, str(2 * Decimal(target))
