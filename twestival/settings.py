"""Configuration: defaults, then TWESTIVAL_* environment variables, then the caller's dict."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

DEFAULTS = {
    "SCHEDULER": "on",
    "BASE_URL": "http://127.0.0.1:5000",
    "LIVE_UPDATES_PER_SECOND": 4,
    "API_MAX_BODY": 16 * 1024,
    "IMPORT_MAX_UPLOAD": 200 * 1024 * 1024,
    "RATELIMIT_HEADERS_ENABLED": True,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
}


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def load(app: Flask, overrides: dict | None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("TWESTIVAL")
    if overrides:
        app.config.update(overrides)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(instance)
    url = app.config.get("DATABASE_URL") or f"sqlite:///{instance / 'twestival.db'}"
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", url)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers wait their turn on the busy timeout (database.configure_engine).
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    redis_url = app.config.get("REDIS_URL")
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config["SCHEDULER"] = str(app.config["SCHEDULER"]).lower()
