"""Connections take turns in a gevent process, and money goes first.

One gevent process serves every connection on one loop, and a gevent socket gives the loop back
only when a read would block. A keep-alive client that has its next request on the wire before
the last answer is finished (a proxy's pool, a crowd of phones, a webhook sender) is therefore
served again and again while the other connections wait: on the cached board, 10 connections
saw p50 0.7 ms but p99 470 ms, 50 connections p99 1.7 s. Giving the loop one turn before each
request lets it look at every other connection first, so each waits its share (p99 8 and 37 ms).

Fair shares are not what a gift wants when the MC says "look at the board": a webhook needs
several turns (its body, the group commit, the answer), and each turn waited for every phone
in the room. So reads hold back while a write is in the process: a gift, a donation or an
organiser's change waits for the reads already running, not for the crowd behind them. A read
never holds back longer than READ_WAIT, so a flood of writes slows the board but cannot stop it.
"""
from __future__ import annotations

import time

from flask import Flask

from .. import socketio_async_mode

READS = frozenset({"GET", "HEAD", "OPTIONS"})
READ_WAIT = 0.1      # seconds a read holds back for writes at most
LOOK_AGAIN = 0.002   # seconds of reads after which the loop looks for new requests first
MOST_DEFERRALS = 20  # ... though a read waits for no more looks than this


class TakeTurns:
    def __init__(self, wsgi_app):
        from gevent import get_hub, sleep
        from gevent.event import Event
        self.wsgi_app, self.sleep = wsgi_app, sleep
        self.writes: dict[int, float] = {}   # the writes in the process: when each began
        self._count = 0
        self.no_writes = Event()
        self.no_writes.set()
        # The loop runs every woken read one after another before it looks at its sockets
        # again; right after an update many of them render a page (a few ms each), and a gift
        # that arrives meanwhile is not even seen for 100 ms or more. Each time the loop has
        # looked (a check watcher runs once per pass, after the poll), it notes when; a read
        # that would start more than LOOK_AGAIN later waits for the next look.
        self.looked = time.perf_counter()
        self._watch = get_hub().loop.check()
        self._watch.start(self._look)

    def _look(self):
        self.looked = time.perf_counter()

    def _holding(self, now: float) -> float:
        """How much longer the youngest write holds reads back. A write holds them for
        READ_WAIT from its start: a gift is written well within it, and a long one (an import
        posted from the organiser pages) does not hold the board up for its whole length."""
        if not self.writes:
            return 0.0
        return READ_WAIT - (now - max(self.writes.values()))

    def _wait_turn(self) -> None:
        self.sleep(0)
        held_until, deferred = None, 0
        while True:
            now = time.perf_counter()
            holding = self._holding(now)
            if now - self.looked > LOOK_AGAIN and deferred < MOST_DEFERRALS:
                deferred += 1
                self.sleep(0.0001)
            elif holding > 0 and (held_until is None or now < held_until):
                # Every held read wakes at once when the writes end: each looks again first.
                held_until = held_until or now + READ_WAIT
                self.no_writes.wait(min(holding, held_until - now))
            else:
                return

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in READS:
            self._wait_turn()
            return self.wsgi_app(environ, start_response)
        self._count += 1
        token = self._count
        self.writes[token] = time.perf_counter()
        self.no_writes.clear()
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            del self.writes[token]
            if not self.writes:
                self.no_writes.set()


def init_app(app: Flask) -> None:
    """Last, so that it runs before every other middleware."""
    if socketio_async_mode() == "gevent":
        app.wsgi_app = TakeTurns(app.wsgi_app)


def off_loop(work, *args):
    """``work(*args)`` in a native thread under gevent, the loop serving others meanwhile: for
    work that holds the process for long and releases the GIL as it goes (Pillow drawing and
    encoding a share card: 15 ms). Elsewhere, here and now."""
    if socketio_async_mode() == "gevent":
        from gevent import get_hub
        return get_hub().threadpool.apply(work, args)
    return work(*args)
