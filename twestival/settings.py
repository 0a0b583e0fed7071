"""Configuration: defaults, then TWESTIVAL_* environment variables, then the caller's dict."""
from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

from flask import Flask

DEFAULTS = {
    "SCHEDULER": "on",
    "PROXIES": 0,  # reverse proxies in front (nginx: 1), trusted for X-Forwarded-* (web/security.py)
    "BASE_URL": "http://127.0.0.1:5000",
    # Who may read /metrics: these addresses, or anyone with METRICS_TOKEN as a bearer token.
    "METRICS_ALLOW": "127.0.0.1/32,::1",
    "METRICS_TOKEN": None,
    "LIVE_UPDATES_PER_SECOND": 4,
    # Words that hold a gift's name or message back until an organiser shows it: a list, or
    # one string with commas or new lines between the words (live/gifts.py).
    "MODERATION_WORDS": "",
    "API_MAX_BODY": 16 * 1024,
    "IMPORT_MAX_UPLOAD": 200 * 1024 * 1024,
    "RATELIMIT_HEADERS_ENABLED": True,
    # With the limits kept in Redis, an outage must not turn donations into errors: count in
    # memory meanwhile.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "WTF_CSRF_TIME_LIMIT": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "APPLY_RATE_LIMIT": "10 per hour",   # the public city application form, per address
    # How long a writer waits for SQLite's write lock before the request answers 503.
    "SQLITE_BUSY_TIMEOUT_MS": 30_000,
    # Payments (docs/payments.md). Donation bounds in major units of the city currency:
    # one value for every currency, or {"JPY": "100", "*": "1.00"} per currency.
    "DONATION_MIN": {"*": "1.00", "JPY": "100", "KRW": "1000", "ISK": "100", "HUF": "300"},
    "DONATION_MAX": {"*": "10000", "JPY": "1000000", "KRW": "10000000", "ISK": "1000000",
                     "HUF": "3000000"},
    "DONATE_RATE_LIMIT": "10 per minute;60 per hour",
    "WEBHOOK_MAX_BODY": 512 * 1024,
    "PAYPAL_VERIFY": "offline",
    # A built-in stand-in for Stripe Checkout in test mode (giving/sandbox.py); the demo's.
    "PAYMENTS_SANDBOX": "off",
    # "Cover the fees" grosses a gift up by these (giving/amounts.py: DEFAULT_FEE_RULES).
    "FEE_RULES": None,
    # Where PAYPAL-CERT-URL may point (scheme://host[:port]); anything else is refused.
    "PAYPAL_CERT_ORIGINS": ["https://api.paypal.com", "https://api.sandbox.paypal.com",
                            "https://api-m.paypal.com", "https://api-m.sandbox.paypal.com"],
    "PAYPAL_CERT_SUBJECTS": ["messageverificationcerts.paypal.com",
                             "messageverificationcerts.sandbox.paypal.com"],
}


class SettingsError(RuntimeError):
    """A combination of settings the app refuses to start with (one line, for the operator)."""


def _secret_key(instance: Path, name: str = "secret_key") -> str:
    path = instance / name
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
    # psycopg 3 is the PostgreSQL driver we ship; SQLAlchemy would otherwise look for psycopg2.
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            url = "postgresql+psycopg://" + url[len(plain):]
    app.config.setdefault("SQLALCHEMY_DATABASE_URI", url)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A restarted or failed-over server leaves dead pooled connections: test before use.
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_pre_ping": True})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers wait their turn on the busy timeout (database.configure_engine).
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"connect_args": {"timeout": 30}})
    redis_url = app.config.get("REDIS_URL")
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    app.config["SCHEDULER"] = str(app.config["SCHEDULER"]).lower()
    app.config["METRICS_NETWORKS"] = networks(app.config["METRICS_ALLOW"])
    app.config["LIVE_UPDATES_PER_SECOND"] = updates_per_second(
        app.config["LIVE_UPDATES_PER_SECOND"])
    configure_sandbox(app)


def updates_per_second(value) -> float:
    """TWESTIVAL_LIVE_UPDATES_PER_SECOND: a number above 0 (fractions allowed)."""
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = 0.0
    if not 0 < rate < float("inf"):   # NaN fails this too
        raise SettingsError("TWESTIVAL_LIVE_UPDATES_PER_SECOND must be a number above 0, "
                            f"not {value!r}")
    return rate


def networks(spec: str | list | tuple) -> tuple:
    """TWESTIVAL_METRICS_ALLOW: comma-separated addresses or CIDR networks."""
    items = spec.split(",") if isinstance(spec, str) else spec
    try:
        return tuple(ipaddress.ip_network(str(item).strip(), strict=False)
                     for item in items if str(item).strip())
    except ValueError as exc:
        raise RuntimeError(f"TWESTIVAL_METRICS_ALLOW: {exc}") from None


def configure_sandbox(app: Flask) -> None:
    """PAYMENTS_SANDBOX: ``on`` or ``off``. With it on, Stripe payments can only be test ones,
    and sandbox gifts need a webhook secret to be signed with (generated if none is set)."""
    value = str(app.config.get("PAYMENTS_SANDBOX") or "off").strip().lower()
    if value not in {"on", "off"}:
        raise SettingsError(f"TWESTIVAL_PAYMENTS_SANDBOX must be 'on' or 'off', not {value!r}")
    app.config["PAYMENTS_SANDBOX"] = value
    if value == "off":
        return
    if str(app.config.get("STRIPE_SECRET_KEY") or "").startswith(("sk_live_", "rk_live_")):
        raise SettingsError("refusing to start: TWESTIVAL_PAYMENTS_SANDBOX is on but "
                            "TWESTIVAL_STRIPE_SECRET_KEY is a live key; turn one of them off")
    if not app.config.get("STRIPE_WEBHOOK_SECRET"):
        app.config["STRIPE_WEBHOOK_SECRET"] = "whsec_" + _secret_key(
            Path(app.instance_path), "sandbox_webhook_secret")
