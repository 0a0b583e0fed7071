"""Socket.IO namespace ``/live``: watchers join a campaign's room and get a snapshot."""
from __future__ import annotations

from flask_socketio import Namespace, emit, join_room

from .. import metrics
from ..campaigns.service import get_campaign
from ..storage.database import read_only
from ..errors import DomainError
from ..extensions import db
from .board import room, snapshot


class LiveNamespace(Namespace):
    def on_connect(self, auth=None):
        metrics.WATCHERS.inc()
        return True

    def on_disconnect(self, reason=None):
        metrics.WATCHERS.dec()

    def on_watch(self, data):
        slug = data.get("campaign") if isinstance(data, dict) else None
        if not isinstance(slug, str) or not slug:
            emit("error", {"error": "watch needs {\"campaign\": SLUG}"})
            return
        try:
            with read_only():
                campaign = get_campaign(db.session, slug)
                # Join before reading: an update racing the snapshot is then received (and
                # ignored if older), never missed.
                join_room(room(campaign.slug))
                board = snapshot(db.session, campaign)
                db.session.rollback()
        except DomainError as exc:
            emit("error", {"error": exc.message})
            return
        emit("leaderboard", board)
