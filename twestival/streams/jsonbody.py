"""Reading the JSON objects other programs and our own pages post (API donations, cash counts)."""
from __future__ import annotations

import json

from ..errors import BadRequest, InvalidInput


def parse_object(body: bytes, fields: set[str]) -> dict:
    """A JSON object holding only ``fields``; malformed → 400, unknown field → 422."""
    try:
        data = json.loads(body)
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
