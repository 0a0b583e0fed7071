"""Socket.IO namespace ``/live``: watchers join a campaign's room (or one city's) and get a
snapshot."""
from __future__ import annotations

from flask import current_app
from flask_socketio import Namespace, emit, join_room, leave_room, rooms

from .. import metrics
from ..campaigns.service import get_campaign, get_city
from ..storage.database import read_only
from ..errors import DomainError
from ..extensions import db
from ..programme import runsheet
from .board import city_room, room, snapshot
from .publisher import words


class LiveNamespace(Namespace):
    def on_connect(self, auth=None):
        metrics.WATCHERS.inc()
        return True

    def on_disconnect(self, reason=None):
        metrics.WATCHERS.dec()

    def on_watch(self, data):
        slug = data.get("campaign") if isinstance(data, dict) else None
        city_slug = data.get("city") if isinstance(data, dict) else None
        if not isinstance(slug, str) or not slug:
            emit("error", {"error": "watch needs {\"campaign\": SLUG}"})
            return
        if city_slug is not None and (not isinstance(city_slug, str) or not city_slug):
            emit("error", {"error": "city must be a city's slug"})
            return
        try:
            with read_only():
                campaign = get_campaign(db.session, slug)
                city = get_city(db.session, campaign, city_slug, approved_only=True) \
                    if city_slug else None
                # A watcher of one city gets that city's updates only, not the campaign's too.
                wanted = city_room(campaign.slug, city.slug) if city else room(campaign.slug)
                for joined in rooms():
                    if joined.startswith("campaign:") and joined != wanted:
                        leave_room(joined)
                # Join before reading: an update racing the snapshot is then received (and
                # ignored if older), never missed.
                join_room(wanted)
                board = snapshot(db.session, campaign, words(current_app), city=city)
                if city is not None:
                    board["run_sheet"] = runsheet.public(db.session, city)
                db.session.rollback()
        except DomainError as exc:
            emit("error", {"error": exc.message})
            return
        if city is not None:
            board["city"] = city.slug
        emit("leaderboard", board)
