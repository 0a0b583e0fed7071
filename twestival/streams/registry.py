"""Which function re-processes an archived payload of each stream (used by ``replay``).

A processor takes (session, payload) and must be idempotent: replaying a payload that was
already counted changes nothing. It flushes; the caller commits.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from .archive import InboundPayload

Processor = Callable[[Session, InboundPayload], None]
PROCESSORS: dict[str, Processor] = {}


def register(stream: str) -> Callable[[Processor], Processor]:
    def decorator(func: Processor) -> Processor:
        PROCESSORS[stream] = func
        return func
    return decorator
