"""Signing in: the per-account throttle around the password check.

Two steps, so the caller can run the first in a read-only transaction (the Argon2 check is
slow, and on SQLite a writing transaction would hold the write lock through it) and the second,
which writes, in a short one of its own.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from . import throttle
from .models import User
from .service import check_password, find_user


@dataclass(frozen=True)
class Attempt:
    email: str
    user: User | None = None                  # set when the password was right
    wait: dt.timedelta | None = None          # set when the account refused to check it


def check(session: Session, email: str, password: str) -> Attempt:
    """Reads only."""
    wait = throttle.wait_before_attempt(session, email)
    if wait is not None:
        return Attempt(email, wait=wait)
    user = find_user(session, email)
    return Attempt(email, user=user if check_password(user, password) else None)


def record(session: Session, attempt: Attempt) -> None:
    """A right password clears the account's count, a wrong one adds to it."""
    if attempt.wait is not None:
        return   # refused unchecked: it says nothing about the password
    if attempt.user is not None:
        throttle.forgive(session, attempt.email)
    else:
        throttle.record_failure(session, attempt.email)
