"""Per-account sign-in throttling with capped exponential back-off (OWASP ASVS 2.2.1).

Per-address rate limits do not stop a guesser who spreads attempts over many addresses, so
wrong passwords are also counted per account, in the database (every process sees them).
After FREE_ATTEMPTS wrong passwords the account refuses sign-in, without checking the
password, for BASE_DELAY, doubling with each further wrong password up to MAX_DELAY. The cap,
the forgetting after QUIET_PERIOD and the set-password link (which forgives the count) mean
nobody can lock the real owner out for good: at worst they wait a few minutes or reset.

Operations flush; the caller commits.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..storage.database import utcnow
from .models import LoginThrottle

FREE_ATTEMPTS = 5
BASE_DELAY = dt.timedelta(seconds=15)
MAX_DELAY = dt.timedelta(minutes=5)
QUIET_PERIOD = dt.timedelta(hours=24)


def account_key(email: str) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()


def delay_after(failures: int) -> dt.timedelta:
    """How long sign-in stays closed after this many wrong passwords in a row."""
    if failures < FREE_ATTEMPTS:
        return dt.timedelta(0)
    doublings = min(failures - FREE_ATTEMPTS, 16)  # 15 s * 2**16 is far past the cap already
    return min(BASE_DELAY * 2 ** doublings, MAX_DELAY)


def wait_before_attempt(session: Session, email: str, now: dt.datetime | None = None
                        ) -> dt.timedelta | None:
    """None when a password for this account may be checked now, else how long to wait."""
    now = now or utcnow()
    row = session.get(LoginThrottle, account_key(email))
    if row is None or row.locked_until is None or row.locked_until <= now:
        return None
    return row.locked_until - now


def record_failure(session: Session, email: str, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    key = account_key(email)
    row = session.get(LoginThrottle, key)
    if row is None:
        try:
            with session.begin_nested():
                session.add(LoginThrottle(account_key=key, failures=0, last_failure_at=now))
        except IntegrityError:   # another process counted this account's first failure
            pass
        row = session.get(LoginThrottle, key, populate_existing=True)
    if row.failures and now - row.last_failure_at > QUIET_PERIOD:
        row.failures = 0
    # One atomic increment: concurrent wrong passwords from other processes are all counted.
    session.execute(update(LoginThrottle).where(LoginThrottle.account_key == key)
                    .values(failures=LoginThrottle.failures + 1, last_failure_at=now))
    session.refresh(row)
    delay = delay_after(row.failures)
    row.locked_until = now + delay if delay else None
    session.flush()


def forgive(session: Session, email: str) -> None:
    """A right password or a reset: the account starts afresh."""
    row = session.get(LoginThrottle, account_key(email))
    if row is not None:
        session.delete(row)
        session.flush()
