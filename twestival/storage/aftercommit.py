"""What must wait for a commit: one pair of session listeners for all of it.

A module that has work to do once a transaction commits (push the boards, send mail, count
entries, remember what was looked up) keeps what it needs under its own key in
``session.info`` and subscribes a handler for that key here. After a commit each handler
gets what was kept under its key; a rollback drops it all, so nothing happens for work that
did not land. Handlers must not raise: the transaction is over and the caller has moved on.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

Handler = Callable[[Session, Any], None]
_handlers: dict[str, Handler] = {}


def subscribe(key: str, handler: Handler) -> None:
    """After each commit, ``handler(session, value)`` with ``session.info.pop(key)``, if set."""
    _handlers[key] = handler
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)


def _after_commit(session: Session) -> None:
    # SQLAlchemy also calls after_commit when a savepoint (begin_nested) is released; the
    # work kept so far is not committed then, and must wait for the real commit.
    if session.in_nested_transaction():
        return
    info = session.info
    for key, handler in _handlers.items():
        value = info.pop(key, None)
        if value:
            handler(session, value)


def _after_rollback(session: Session) -> None:
    # A savepoint rolled back (one refused delivery of a group) must not drop what the rest
    # of the transaction keeps for its commit; at worst a board is pushed once for nothing.
    if session.in_nested_transaction():
        return
    for key in _handlers:
        session.info.pop(key, None)
