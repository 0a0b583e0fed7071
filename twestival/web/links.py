"""Absolute links that also work outside a request (CLI output, mails from scheduled jobs)."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for


def external_url(endpoint: str, **values) -> str:
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = current_app.config.get("BASE_URL", "http://127.0.0.1:5000")
    with current_app.test_request_context(base_url=base):
        return url_for(endpoint, _external=True, **values)


def local_path(target: str | None) -> str | None:
    r"""``target`` if it can only lead to a path on this site, else None (no open redirects).

    Browsers drop tabs and newlines from URLs and read a backslash as a slash, so
    ``/\t/evil.example`` and ``/\evil.example`` are ``//evil.example``: another site. Only a
    single leading slash followed by visible, non-backslash characters is kept.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(not ch.isprintable() or ch.isspace() for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
