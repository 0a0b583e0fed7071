"""The board as the public pages show it: read once per seq for all of a campaign's pages.

After every update a crowd asks for the board, the leaderboard JSON and each city's page,
widget and share card. Each used to read the whole board (every city's row, the matches) for
itself: at 15 cities, 47 reads of the same rows per update. Now the rows are read once per
seq and generation (web/pagecache.Pages.shared) and each wall's gifts once per city. The rows
and the gifts may then come from two reads at the same seq: a gift the publisher has not sent
yet can show on the wall a moment before it shows in its city's total, never the other way.
"""
from __future__ import annotations

from flask import current_app

from ..campaigns.models import Campaign, City
from ..extensions import db
from ..live import gifts as gift_wall
from ..live.board import current_seq, standings, with_gifts
from ..live.publisher import words
from .pagecache import EXTENSION, Pages


def board(campaign: Campaign, city: City | None = None) -> dict:
    """``live.board.snapshot`` as every public page shows it (``city``: that city's gifts)."""
    pages, seq, rows = _standings(campaign)
    gifts = pages.shared(("gifts", campaign.id, city.id if city else None), campaign.slug, seq,
                         lambda: gift_wall.latest(db.session, campaign, words(current_app),
                                                  city=city))
    return with_gifts(rows, gifts, city)


def row(campaign: Campaign, city: City, board: dict | None = None) -> dict:
    """One city's row: from ``board`` when the page has one, else from the shared rows (the
    share card shows no gifts)."""
    rows = (board or _standings(campaign)[2])["cities"]
    return next(r for r in rows if r["slug"] == city.slug)


def _standings(campaign: Campaign) -> tuple[Pages, int, dict]:
    pages: Pages = current_app.extensions[EXTENSION]
    seq = current_seq(db.session, campaign.id)
    return pages, seq, pages.shared(("standings", campaign.id), campaign.slug, seq,
                                    lambda: standings(db.session, campaign, seq))
