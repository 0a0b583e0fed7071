"""Run sheet changes pushed to the screens of one city, after the commit that made them."""
from __future__ import annotations

import logging

from .. import metrics
from .board import city_room

log = logging.getLogger(__name__)


def run_sheet_changed(socketio, campaign_slug: str, city_slug: str, items: list[dict]) -> None:
    """The whole run sheet, small enough to send again on every edit: a screen that misses
    one (the queue is down) is right again at its next snapshot."""
    message = {"campaign": campaign_slug, "city": city_slug, "run_sheet": items}
    try:
        socketio.emit("run_sheet", message, namespace="/live", to=city_room(campaign_slug, city_slug))
    except Exception:
        log.exception("run_sheet for %s/%s could not be pushed", campaign_slug, city_slug)
        metrics.PUSH_FAILURES.inc()
