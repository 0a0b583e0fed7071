"""The Socket.IO message queue on Redis, strict about failed pushes.

python-socketio's RedisManager logs and drops an emit it could not publish; the publisher
needs to know, so the change stays dirty and is pushed again once Redis is back.
"""
from __future__ import annotations

import socketio


class PushFailed(RuntimeError):
    pass


class StrictRedisManager(socketio.RedisManager):
    def _publish(self, data):
        receivers = super()._publish(data)
        if data.get("method") != "emit":
            return receivers
        if receivers is None:
            raise PushFailed("could not publish to Redis")
        # A serving process is itself subscribed; nobody listening means our own listener has
        # not re-subscribed yet after an outage, and our watchers would miss this update.
        if receivers == 0 and not self.write_only:
            raise PushFailed("no Socket.IO process is subscribed to the Redis channel yet")
        return receivers


def socketio_options(url: str | None) -> dict:
    """Socket.IO server options for TWESTIVAL_REDIS_URL (unset: in-process, no queue).

    Always names the manager: the shared SocketIO object would otherwise keep the previous
    app's queue (Flask-SocketIO merges init_app options into what it had).
    """
    return {"client_manager": StrictRedisManager(url, channel="flask-socketio") if url else None}
