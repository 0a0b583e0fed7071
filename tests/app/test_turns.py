"""Under gevent, reads hold back while a write is in the process (web/turns.py): a gift is not
kept waiting by the crowd reading the board, and the crowd is not stopped by a flood of gifts."""
from __future__ import annotations

import gevent
from gevent.event import Event

from twestival.web import turns


def _app(log: list, hold: dict[str, Event]):
    def wsgi(environ, start_response):
        name = environ["PATH_INFO"]
        log.append(("start", name))
        if name in hold:
            hold[name].wait()
        log.append(("end", name))
        return [b""]
    return wsgi


def _request(app, method: str, path: str):
    return gevent.spawn(app, {"REQUEST_METHOD": method, "PATH_INFO": path}, lambda *a: None)


def test_a_read_that_arrives_during_a_write_waits_for_it():
    log, release = [], Event()
    app = turns.TakeTurns(_app(log, {"/webhooks/stripe": release}))
    gift = _request(app, "POST", "/webhooks/stripe")
    gevent.sleep(0.01)
    board = _request(app, "GET", "/c/tw")
    gevent.sleep(turns.READ_WAIT / 4)
    assert log == [("start", "/webhooks/stripe")]   # the board waits while the gift is written
    release.set()
    gevent.joinall([gift, board], timeout=5)
    assert log == [("start", "/webhooks/stripe"), ("end", "/webhooks/stripe"),
                   ("start", "/c/tw"), ("end", "/c/tw")]


def test_a_read_holds_back_for_writes_no_longer_than_read_wait():
    log, never = [], Event()
    app = turns.TakeTurns(_app(log, {"/webhooks/stripe": never}))
    _request(app, "POST", "/webhooks/stripe")
    gevent.sleep(0.01)
    board = _request(app, "GET", "/c/tw")
    board.join(timeout=5)
    assert board.successful()
    assert log == [("start", "/webhooks/stripe"), ("start", "/c/tw"), ("end", "/c/tw")]
    never.set()


def test_writes_do_not_wait_for_each_other_or_for_reads():
    log, release = [], Event()
    app = turns.TakeTurns(_app(log, {"/c/tw": release}))
    board = _request(app, "GET", "/c/tw")
    gevent.sleep(0.01)
    gifts = [_request(app, "POST", f"/webhooks/{n}") for n in range(3)]
    gevent.joinall(gifts, timeout=5)
    assert [entry for entry in log if entry[1] != "/c/tw"] == [
        (step, f"/webhooks/{n}") for n in range(3) for step in ("start", "end")]
    release.set()
    board.join(timeout=5)
    assert log[-1] == ("end", "/c/tw")


def test_a_long_write_holds_reads_back_only_at_its_start():
    """An import posted from the organiser pages takes seconds: the board goes on meanwhile."""
    log, release = [], Event()
    app = turns.TakeTurns(_app(log, {"/organise/tw/london/import": release}))
    _request(app, "POST", "/organise/tw/london/import")
    gevent.sleep(turns.READ_WAIT * 1.5)
    boards = [_request(app, "GET", f"/c/tw?{n}") for n in range(3)]
    gevent.joinall(boards, timeout=turns.READ_WAIT * 0.9)   # not held: well within
    assert all(board.successful() for board in boards)
    assert log[0] == ("start", "/organise/tw/london/import") and len(log) == 7
    release.set()
