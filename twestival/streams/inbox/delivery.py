"""A verified webhook body on its way into the inbox, and what is learnt of it on the way."""
from __future__ import annotations

import dataclasses
import datetime as dt

from .archive import clean_headers


@dataclasses.dataclass(slots=True)
class Delivery:
    """One verified webhook body, and what was told about it before it was archived."""
    stream: str
    body: bytes
    headers: dict[str, str]
    content_type: str | None
    external_id: str
    event: dict
    payload_id: int | None = None
    campaign_id: int | None = None
    received_at: dt.datetime | None = None
    sha256: str | None = None


def delivery(stream: str, body: bytes, headers, content_type: str | None, external_id: str,
             event: dict) -> Delivery:
    return Delivery(stream, body, clean_headers(headers or {}), content_type, external_id, event)
