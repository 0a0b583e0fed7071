"""The per-campaign update cap (issue 17): every push spends one slot, and slots are handed out
at least an interval apart, in one process (``LocalWindows``, on a clock the test holds) and
across processes (``SharedWindows`` on a real Redis, on Redis's own clock). Nothing here
depends on how fast the machine is: a slot's start is decided where it is reserved."""
from __future__ import annotations

import itertools
import threading
import uuid

import pytest

from tests import services
from twestival.live.queue import LocalWindows, SharedWindows


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_quiet_campaign_gets_a_slot_at_once_and_busy_ones_the_end_of_each_window():
    clock = Clock()
    windows = LocalWindows(clock)
    assert windows.claim(1, 0.25) == 0                 # leading edge
    assert windows.claim(1, 0.25) == pytest.approx(0.25)   # the end of the open window
    assert windows.claim(1, 0.25) == pytest.approx(0.5)    # each claim is a slot of its own
    assert windows.claim(2, 0.25) == 0                 # campaigns do not share windows
    clock.now += 0.6
    assert windows.claim(1, 0.25) == pytest.approx(0.15)   # the slot after the last reserved
    clock.now += 10
    assert windows.claim(1, 0.25) == 0                 # quiet again: leading edge


@pytest.mark.services
def test_two_processes_hammering_one_campaign_never_get_slots_closer_than_the_interval():
    """Two SharedWindows (as two app processes have), four threads each, claiming as fast as
    they can: every slot Redis hands out starts at least the interval after the one before.
    The SET NX / PTTL claim this replaced fell through to "push now" when a window ended
    between its two calls, and two processes then pushed ~5 ms apart."""
    url = services.redis_url()
    campaign = uuid.uuid4().int % 10**12   # a key no other test or process uses
    interval_ms = 20
    processes = [SharedWindows(url), SharedWindows(url)]
    starts: list[int] = []
    lock = threading.Lock()

    def hammer(windows: SharedWindows) -> None:
        for _ in range(40):
            _delay, start = windows.reserve(campaign, interval_ms / 1000)
            with lock:
                starts.append(start)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in processes for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        starts.sort()
        assert len(starts) == 320
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= interval_ms, [g for g in gaps if g < interval_ms]
    finally:
        processes[0].redis.delete(f"{SharedWindows.PREFIX}{campaign}")


@pytest.mark.services
def test_a_shared_window_is_a_leading_edge_after_quiet():
    url = services.redis_url()
    campaign = uuid.uuid4().int % 10**12
    first, second = SharedWindows(url), SharedWindows(url)
    try:
        delay, start = first.reserve(campaign, 100.0)   # a window no test outlasts
        assert delay == 0                               # nothing sent lately: at once
        later, next_start = second.reserve(campaign, 100.0)
        assert next_start == start + 100_000            # the other process: the window's end
        assert 0 < later <= 100.0
        first.redis.delete(f"{SharedWindows.PREFIX}{campaign}")   # what the window's expiry does
        assert second.claim(campaign, 100.0) == 0       # quiet again: at once
    finally:
        first.redis.delete(f"{SharedWindows.PREFIX}{campaign}")


def test_with_redis_unreachable_a_process_keeps_the_cap_on_its_own():
    clock = Clock()
    windows = SharedWindows(f"redis://127.0.0.1:{services.free_port()}/0", clock=clock)
    assert windows.claim(1, 0.25) == 0
    assert windows.claim(1, 0.25) == pytest.approx(0.25)
