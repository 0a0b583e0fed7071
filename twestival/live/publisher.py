"""Pushes board changes to watchers after commit, coalesced per campaign.

The ledger notes which (campaign, city) pairs a transaction touched; after the commit this
publisher is told, and a background task sends at most ``rate`` updates a second per campaign,
always ending with the latest state. Pending changes reserve the campaign's next slot, each at
least an interval after the one before (``queue.LocalWindows``; with Redis
``queue.SharedWindows``, so the cap holds per campaign across processes). After a quiet
interval the slot is now: the leading edge. While changes keep coming, the slot is the end of
the current window, and the process that reserved it pushes then without asking again. A failed
push (say the message queue is down) never affects the donation, which is already committed:
the change stays dirty and is retried.
"""
from __future__ import annotations

import logging
import threading
import time

import socketio as python_socketio
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from .. import metrics
from ..storage import aftercommit
from ..campaigns.models import Campaign
from ..ledger import leaderboard
from ..ledger.totals import CHANGES_KEY
from . import transport
from .board import (add_progress_point, city_room, for_city, match_cities, matches,
                    neighbours, next_seq, record_sent, room)
from .celebrate import largest_ids
from .gifts import moderation_words, since
from .queue import LocalWindows, SharedWindows

log = logging.getLogger(__name__)
EXTENSION = "twestival.live"
PROGRESS_EVERY = 60.0   # seconds between stored points of the progress chart


class Publisher:
    def __init__(self, app: Flask, socketio, db, rate: float = 4.0, windows=None,
                 clock=time.monotonic):
        self.app, self.socketio, self.db = app, socketio, db
        self.interval = 1.0 / rate
        self.clock = clock       # when slots start (tests hold it still)
        # queue.SharedWindows when several processes push
        self.windows = windows or LocalWindows(lambda: self.clock())
        self._dirty: dict[int, set[int | None]] = {}
        self._slots: dict[int, float] = {}   # campaign -> when its reserved slot starts
        self._last_rows: dict[int, dict[str, dict]] = {}
        self._last_matches: dict[int, list[dict]] = {}
        self._last_point: dict[int, float] = {}
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # held for a whole push, so drain() can wait for one
        self._claiming = threading.Lock()   # drain() and the loop: one reservation at a time
        self._wake = threading.Event()
        self._task = None
        self._stopped = False
        self.pushes_sent = 0

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def drain(self, timeout: float = 5.0) -> bool:
        """Push what is pending now; for processes that do not serve (CLI commands) and exit
        right after their commit. True when nothing is left pending. It waits for the
        campaign's slot like any push (at most an interval), so the cap holds here too."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._flushing, self._lock:  # a push in progress has taken its changes already
                if not self._dirty:
                    return True
            due, wait = self._take_due()   # the cap holds for a command's last push too
            for campaign_id in due:
                self._flush(campaign_id)
            if not due:
                time.sleep(min(wait or 0.05, max(0.0, deadline - time.monotonic())))
        with self._lock:
            return not self._dirty

    def changed(self, pairs) -> None:
        with self._lock:
            for campaign_id, city_id in pairs:
                self._dirty.setdefault(campaign_id, set()).add(city_id)
            if self._task is None:
                self._task = self.socketio.start_background_task(self._run)
        self._wake.set()

    def wake(self) -> None:
        """Look at the windows again now (a change does this by itself)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stopped:
            # Cleared before looking, so a change that arrives meanwhile sets it again and the
            # wait below returns at once; it waits on the event, never sleeps through a window.
            self._wake.clear()
            due, wait = self._take_due()
            for campaign_id in due:
                self._flush(campaign_id)
            if not due:
                self._wake.wait(timeout=1.0 if wait is None else wait)

    def _take_due(self) -> tuple[list[int], float | None]:
        """The campaigns whose slot has started; else the seconds until the first one does.
        A pending campaign without a slot reserves one here (at most one each: one push)."""
        with self._claiming:
            with self._lock:
                unslotted = [c for c in self._dirty if c not in self._slots]
            for campaign_id in unslotted:   # outside the lock: this may ask Redis
                delay = self.windows.claim(campaign_id, self.interval)
                if delay > 0:
                    metrics.WINDOWS_WAITED.inc()
                at = self.clock() + delay
                with self._lock:
                    self._slots[campaign_id] = at
            now = self.clock()
            due, wait = [], None
            with self._lock:
                for campaign_id in self._dirty:
                    if campaign_id not in self._slots:
                        continue   # changed just now: the wake it set makes the loop look again
                    remaining = self._slots[campaign_id] - now
                    if remaining <= 0:
                        due.append(campaign_id)
                    else:
                        wait = remaining if wait is None else min(wait, remaining)
                # Pushes run one after another: the campaign whose slot started first goes first.
                due.sort(key=self._slots.__getitem__)
        return due, wait

    def _watched(self, slug: str, cities) -> list[str]:
        """The cities among ``cities`` whose own watchers may be listening. Building a message
        costs even for an empty room; with one process the rooms are known here, with a
        message queue the other processes' are not, so every city is sent."""
        manager = self.socketio.server.manager
        if isinstance(manager, python_socketio.PubSubManager):
            return list(cities)
        rooms = manager.rooms.get("/live", {})
        return [city for city in cities if rooms.get(city_room(slug, city))]

    def _flush(self, campaign_id: int) -> None:
        with self._flushing:
            self._push(campaign_id)

    def _push(self, campaign_id: int) -> None:
        started = time.perf_counter()
        with self._lock:
            dirty = self._dirty.pop(campaign_id, None)
            if dirty is None:
                # Another thread pushed it between our decision and now (``drain`` and the
                # background task both flush): an empty push would only move seq.
                return
            self._slots.pop(campaign_id, None)   # this push spends the slot
        try:
            with self.app.app_context():
                session = self.db.session
                campaign = session.get(Campaign, campaign_id)
                if campaign is None:
                    return
                seq, last_gift, city_seqs = next_seq(session, campaign_id)
                gifts, newest_gift = since(session, campaign, last_gift, words(self.app))
                largest = largest_ids(session, campaign, gifts)
                rows = leaderboard.city_rows(session, campaign)
                previous = self._last_rows.get(campaign_id, {})
                # Rank moves ripple: a city overtaken changed too, though no money touched it.
                changed = [r for r in rows if previous.get(r["slug"]) != r]
                touched = _touched(changed, rows, list(previous.values()), gifts)
                # A match spent, set up or changed redraws the banner of every city it covers.
                offers = matches(session, campaign)
                touched |= match_cities(offers, self._last_matches.get(campaign_id),
                                        {r["slug"] for r in rows})
                prev_seqs = {city: city_seqs.get(city, 0) for city in touched}
                if touched or newest_gift != last_gift:
                    record_sent(session, campaign_id, newest_gift,
                                {**city_seqs, **{city: seq for city in touched}})
                unassigned = leaderboard.unassigned_reporting_minor(session, campaign)
                total = sum(r["raised_reporting_minor"] for r in rows) + unassigned
                now = time.monotonic()
                if now - self._last_point.get(campaign_id, -PROGRESS_EVERY) >= PROGRESS_EVERY:
                    add_progress_point(session, campaign_id, total)
                    self._last_point[campaign_id] = now
                slug = campaign.slug
                session.commit()
            pages = self.app.extensions.get("twestival.pages")   # web/pagecache.py
            if pages is not None:   # this process's pages show the new seq at once
                pages.seen(slug, seq)
            totals = {
                "total_raised_minor": total,
                "total_provisional_minor": sum(r["provisional_reporting_minor"] for r in rows),
                "unassigned_reporting_minor": unassigned,
            }
            message = {"campaign": slug, "seq": seq, "cities": changed, "gifts": gifts,
                       "matches": offers, "largest": largest, **totals}
            self.socketio.emit("leaderboard_update", message, namespace="/live", to=room(slug))
            by_slug = {r["slug"]: r for r in rows}
            for city in self._watched(slug, prev_seqs):
                prev_seq = prev_seqs[city]
                shown = [city] + neighbours(rows, city)
                self.socketio.emit("leaderboard_update", {
                    "campaign": slug, "seq": seq, "prev_seq": prev_seq, "city": city,
                    "cities": [by_slug[s] for s in shown],
                    "gifts": [g for g in gifts if g["city"] == city],
                    "matches": for_city(offers, city),
                    "largest": [g["id"] for g in gifts if g["city"] == city and g["id"] in largest],
                    **totals,
                }, namespace="/live", to=city_room(slug, city))
            self._last_rows[campaign_id] = {r["slug"]: r for r in rows}
            self._last_matches[campaign_id] = offers
            self.pushes_sent += 1
            metrics.PUSHES.inc()
            metrics.PUSH_SECONDS.observe(time.perf_counter() - started)
        except Exception:  # the push must never take the process down; retry later
            log.exception("live push for campaign %s failed; will retry", campaign_id)
            metrics.PUSH_FAILURES.inc()
            with self._lock:
                self._dirty.setdefault(campaign_id, set()).update(dirty)
            self._last_rows.pop(campaign_id, None)
            self._last_matches.pop(campaign_id, None)
            self.socketio.sleep(1.0)
            self._wake.set()


def words(app: Flask) -> tuple[str, ...]:
    """The moderation word list (setting MODERATION_WORDS)."""
    return moderation_words(app.config.get("MODERATION_WORDS"))


def _touched(changed: list[dict], rows: list[dict], before: list[dict],
             gifts: list[dict]) -> set[str]:
    """Cities whose own watchers (``watch`` with a city) need this update: those that
    changed or got gifts, and those whose neighbours in the ranking changed or moved."""
    present = {r["slug"] for r in rows}
    touched = {r["slug"] for r in changed} | {g["city"] for g in gifts}
    for row in changed:
        touched.update(neighbours(rows, row["slug"]))
        touched.update(neighbours(before, row["slug"]))
    return touched & present


def hidden(socketio, campaign_slug: str, city_slug: str, gift_id: int) -> None:
    """Tell every screen to drop a gift's name and message; after the commit that hid it.
    A screen that misses it (the queue is down) still loses the gift at its next snapshot."""
    message = {"campaign": campaign_slug, "id": gift_id}
    try:
        for to in (room(campaign_slug), city_room(campaign_slug, city_slug)):
            socketio.emit("gift_hidden", message, namespace="/live", to=to)
    except Exception:
        log.exception("gift_hidden for gift %s could not be pushed", gift_id)
        metrics.PUSH_FAILURES.inc()


def _after_commit(session: Session, pairs) -> None:
    if has_app_context():
        publisher = current_app.extensions.get(EXTENSION)
        if publisher is not None:
            publisher.changed(pairs)


def init_app(app: Flask, socketio, db) -> Publisher:
    aftercommit.subscribe(CHANGES_KEY, _after_commit)
    transport.install(socketio)
    redis_url = app.config.get("REDIS_URL")
    publisher = Publisher(app, socketio, db, rate=float(app.config["LIVE_UPDATES_PER_SECOND"]),
                          windows=SharedWindows(redis_url) if redis_url else None)
    app.extensions[EXTENSION] = publisher
    return publisher
