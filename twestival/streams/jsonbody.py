"""Reading the JSON objects other programs and our own pages post (API donations, cash counts)."""
from __future__ import annotations

import json

from ..errors import BadRequest, InvalidInput


def _once_each(pairs: list[tuple[str, object]]) -> dict:
    """An object whose keys are all different: json.loads would keep the last of a repeated
    key, so {"amount": "1", "amount": "1000"} would read as whatever the sender's last says
    while a log or a proxy that keeps the first reads another gift."""
    data: dict = {}
    for key, value in pairs:
        if key in data:
            raise InvalidInput(f"duplicate field {key[:40]!r}: each field may appear only once")
        data[key] = value
    return data


def parse_object(body: bytes, fields: set[str]) -> dict:
    """A JSON object holding only ``fields``, each once (at any depth); malformed → 400,
    unknown or repeated field → 422."""
    try:
        data = json.loads(body, object_pairs_hook=_once_each)
    except InvalidInput:
        raise
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(data) - fields)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}")
    return data


def text_field(data: dict, name: str, limit: int, *, required: bool = False) -> str | None:
    """An optional (or required) trimmed string of at most ``limit`` characters; '' is None."""
    value = data.get(name)
    label = name.replace("_", " ")
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{label} must be a string")
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{label} is required")
    if len(value) > limit:
        raise InvalidInput(f"{label} is too long (at most {limit} characters)")
    return value or None
