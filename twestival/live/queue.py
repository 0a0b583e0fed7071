"""Socket.IO client managers: in-process, and the message queue on Redis, strict about failed
pushes. Both send room emits through ``transport.fan_out`` (encoded and framed once).

python-socketio's RedisManager delivers an emit to this process's watchers, then publishes it
for the other processes, and only logs when that fails. The publisher needs to know, so that
the change stays pending and is pushed again once Redis is back (see live/publisher.py).
"""
from __future__ import annotations

import threading
import time

import socketio

from .transport import fan_out

# After an outage, wait this long at most for every process seen before it to re-subscribe;
# a process that has not come back by then is taken to be gone.
RECOVERY_WINDOW = 60.0


class PushFailed(RuntimeError):
    pass


def _lean(data, room, skip_sid, callback) -> bool:
    """An emit ``transport.fan_out`` can send: one dict to a named room, no ack, nobody left out."""
    return callback is None and skip_sid is None and isinstance(room, str) \
        and isinstance(data, dict)


class LocalManager(socketio.Manager):
    """python-socketio's in-process manager, with room emits sent by ``transport.fan_out``."""

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
             **kwargs):
        room = to or room
        if _lean(data, room, skip_sid, callback) \
                and fan_out(self, event, data, namespace, room):
            return None
        return super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                            callback=callback, **kwargs)


class StrictRedisManager(socketio.RedisManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._receivers = 0
        self._failed_at: float | None = None

    def _handle_emit(self, message):
        # Every emit passes here, this process's own before it is published and the others'
        # as they arrive: this process's watchers get it through ``transport.fan_out``.
        data = message.get("data")
        if not message.get("binary") and isinstance(data, list) and len(data) == 1 \
                and _lean(data[0], message.get("room"), message.get("skip_sid"),
                          message.get("callback")) \
                and fan_out(self, message["event"], data[0], message.get("namespace") or "/",
                            message["room"]):
            return
        super()._handle_emit(message)

    def _publish(self, data):
        receivers = super()._publish(data)
        if data.get("method") != "emit":
            return receivers
        now = time.monotonic()
        if receivers is None:
            self._failed_at = now
            raise PushFailed("could not publish to Redis")
        # Processes re-subscribe on their own back-off after Redis restarts: one that is not
        # listening yet would miss this update, so keep it pending until they are all back.
        recovering = self._failed_at is not None and now - self._failed_at < RECOVERY_WINDOW
        if recovering and receivers < self._receivers:
            raise PushFailed(f"{receivers} of {self._receivers} processes listen again so far")
        # A serving process listens itself: nobody at all means our own listener is not back.
        if receivers == 0 and not self.write_only:
            raise PushFailed("no Socket.IO process is subscribed to the Redis channel yet")
        self._failed_at, self._receivers = None, receivers
        return receivers


class LocalWindows:
    """Update windows per campaign in this process: ``claim`` hands out slots, each at least
    ``interval`` after the one before, so at most one push per interval (the same contract as
    ``SharedWindows``, which holds it across processes)."""

    def __init__(self, clock):
        self.clock = clock
        self._free: dict[int, float] = {}   # when each campaign's next slot may start
        self._lock = threading.Lock()

    def claim(self, campaign_id: int, interval: float) -> float:
        """Reserves the campaign's next slot for one push: the seconds until it starts (0:
        push now, the leading edge). Every call reserves a slot of its own."""
        with self._lock:
            now = self.clock()
            start = max(now, self._free.get(campaign_id, now))
            self._free[campaign_id] = start + interval
            return start - now


class SharedWindows:
    """Update windows per campaign shared by every process on one Redis, so that "at most
    LIVE_UPDATES_PER_SECOND a second per campaign" holds for the campaign, not per process
    (each process pushes its own commits; a push reads the whole board, so whichever process
    holds a slot sends everyone's changes).

    A claim reserves a slot in one atomic step on Redis's clock. The earlier SET NX / PTTL
    pair was two steps: at the millisecond a window ended SET NX could still fail while PTTL
    already answered 0 and then -2, and the claim fell through to "push now" although another
    process took the new window a moment later (two pushes ~5 ms apart; test_scaleout saw
    10-12 updates in 3.7 s at 2/s). A reservation also ends the race at each window's end: the
    process whose changes wait already owns the next slot and pushes when it starts."""

    PREFIX = "twestival:live:window:"
    # KEYS[1] holds the Redis time (ms) at which the campaign's next slot may start; it expires
    # then, so an absent key is a quiet campaign. Returns {delay ms, slot start ms}.
    SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or now))
redis.call('SET', KEYS[1], start + interval, 'PX', start + interval - now)
return {start - now, start}
"""

    def __init__(self, url: str, clock=time.monotonic):
        import redis
        self.redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._script = self.redis.register_script(self.SCRIPT)
        # Redis unreachable: each process keeps the cap on its own until it answers again
        # (its pushes fail meanwhile and are retried; waiting on nothing would only delay them).
        self.fallback = LocalWindows(clock)

    def claim(self, campaign_id: int, interval: float) -> float:
        """Like ``LocalWindows.claim``, for every process sharing this Redis."""
        import redis
        try:
            return self.reserve(campaign_id, interval)[0]
        except redis.RedisError:
            return self.fallback.claim(campaign_id, interval)

    def reserve(self, campaign_id: int, interval: float) -> tuple[float, int]:
        """The seconds until the reserved slot starts, and its start on Redis's clock (ms)."""
        delay, start = self._script(keys=[f"{self.PREFIX}{campaign_id}"],
                                    args=[max(1, round(interval * 1000))])
        return delay / 1000, int(start)


def socketio_options(url: str | None) -> dict:
    """Socket.IO server options for TWESTIVAL_REDIS_URL (unset: in-process, no queue).

    Always names the manager: the shared SocketIO object would otherwise keep the previous
    app's queue (Flask-SocketIO merges init_app options into what it had).
    """
    return {"client_manager": StrictRedisManager(url, channel="flask-socketio") if url
            else LocalManager()}
