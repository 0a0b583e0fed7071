"""Group commit: requests that arrive while a batch is being written go together in the next.

One request at a time leads: it writes everything queued so far (its own item included) as one
batch, answers each waiting request, and hands the lead to the oldest request still queued, so
no request waits for more than the batch ahead of it and its own. Alone, a request is a batch
of one and waits for nothing. Works with threads and, monkey-patched, with gevent's greenlets
(the locks and events below are then gevent's).
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


# Under gevent, how long a leader waits at most for the requests whose bytes have arrived to
# reach the queue: on a loop that is never idle (a crowd at the door), it writes after this.
GATHER_SECONDS = 0.001


def _let_others_in() -> None:
    """Let the requests that are ready to run reach the queue first. Under gevent nothing else
    runs until this greenlet yields, and a bare yield lets only those already woken run, not
    those whose requests arrived while the last group was written (its SQLite calls block the
    loop): a third of the groups were of one. Waiting for the loop to go idle takes them all."""
    if not _gevent():
        time.sleep(0)
        return
    import gevent
    with gevent.Timeout(GATHER_SECONDS, False):
        gevent.idle()


def _gevent() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


class BatchFailed(RuntimeError):
    """The batch this request's item was in failed with an unexpected error."""


class _Slot(Generic[T, R]):
    __slots__ = ("item", "result", "error", "ready", "lead")

    def __init__(self, item: T):
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()
        self.lead = False


class GroupCommit(Generic[T, R]):
    def __init__(self, write: Callable[[Sequence[T]], Sequence[R]], limit: int = 64,
                 ready: Callable[[], None] | None = None):
        self._write = write
        self._ready = ready
        self._limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._leading = False

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            lead = not self._leading
            self._leading = True
        if not lead:
            slot.ready.wait()
        if lead or slot.lead:
            self._lead()
        if slot.error is not None:
            raise BatchFailed("the batch this request was in failed") from slot.error
        return slot.result

    def _lead(self) -> None:
        _let_others_in()
        failure: BaseException | None = None
        if self._ready is not None:
            try:
                self._ready()
            except BaseException as exc:  # answered like a failed write, below
                failure = exc
        with self._lock:
            batch, self._queue = self._queue[:self._limit], self._queue[self._limit:]
        try:
            if failure is not None:
                raise failure
            results = self._write([slot.item for slot in batch])
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
        except BaseException as exc:  # every waiting request must be answered
            for slot in batch:
                slot.error = exc
            raise
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].ready.set()
                else:
                    self._leading = False
            for slot in batch:
                slot.lead = False
                slot.ready.set()
