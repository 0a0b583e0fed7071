"""The streams the inbox knows, each declared as a ``Stream`` and registered in one place
(``streams.catalogue.register_all``, at app creation) — never by an import's side effect.

A stream's ``process`` takes (session, archived payload), flushes and never commits, and is
idempotent: processing a payload that was already counted changes nothing.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from ...errors import InvalidInput, NotFound
from ...languages import N_
from .archive import InboundPayload
from .delivery import Delivery

Processor = Callable[[Session, InboundPayload], None]
# The campaign a verified event names, looked up before it is archived (None: unknown yet).
CampaignHint = Callable[[Session, dict], "int | None"]
# A webhook provider's check that a body is genuine: (body, headers, settings, cache) -> event.
# ``cache`` keeps what outlives a request (PayPal's certificates); settings are the app's config.
Verifier = Callable[[bytes, Mapping[str, str], Mapping[str, Any], MutableMapping], dict]
# Takes the deliveries of a group it can prove plain, records them set-wise, and returns the
# statuses of those it took by index; the rest are processed one by one.
BatchPath = Callable[[Session, Sequence[Delivery]], dict[int, str]]


@dataclasses.dataclass(frozen=True)
class Stream:
    name: str
    process: Processor
    verify: Verifier | None = None          # webhook providers only
    campaign_hint: CampaignHint | None = None
    batch: BatchPath | None = None


class NotConfigured(NotFound):
    """The provider's settings are missing, so its stream is off here."""


# What follows processing, in the same transaction, before its commit: a hook takes the
# session and the processed payloads as (id, stream) (giving.aftercare: match gifts, receipts).
AfterProcessing = Callable[[Session, list[tuple[int, str]]], None]

_streams: dict[str, Stream] = {}
_after_processing: list[AfterProcessing] = []


def register(stream: Stream) -> Stream:
    _streams[stream.name] = stream
    return stream


def get(name: str) -> Stream:
    try:
        return _streams[name]
    except KeyError:
        raise InvalidInput(N_("no processor for stream %(name)r; known: %(known)s"), name=name,
                           known=", ".join(sorted(_streams))) from None


def known() -> list[str]:
    return sorted(_streams)


def after_processing(hook: AfterProcessing) -> None:
    if hook not in _after_processing:
        _after_processing.append(hook)


def after_processing_hooks() -> tuple[AfterProcessing, ...]:
    return tuple(_after_processing)
