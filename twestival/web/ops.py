"""Operations endpoints: health for load balancers, metrics for Prometheus."""
from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request
from sqlalchemy import text

from .. import metrics
from ..extensions import db

bp = Blueprint("ops", __name__)
REDIS_CLIENT = "twestival.redis"


def _redis():
    """One small client per app, with short timeouts: a health check must answer quickly."""
    client = current_app.extensions.get(REDIS_CLIENT)
    if client is None:
        import redis
        client = redis.Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=2,
                                      socket_connect_timeout=2)
        current_app.extensions[REDIS_CLIENT] = client
    return client


@bp.get("/healthz")
def healthz():
    checks, healthy = {}, True
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        checks["database"], healthy = exc.__class__.__name__, False
    if current_app.config.get("REDIS_URL"):
        try:
            _redis().ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"], healthy = exc.__class__.__name__, False
    return jsonify(status="ok" if healthy else "unhealthy", **checks), 200 if healthy else 503


# Headers a proxy adds. Seen while no proxy is trusted (TWESTIVAL_PROXIES=0), they mean the
# loopback address we see is the proxy's, not the reader's.
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded")


def _may_read_metrics() -> bool:
    config = current_app.config
    token = config.get("METRICS_TOKEN")
    if token and hmac.compare_digest(request.headers.get("Authorization", "").encode(),
                                     f"Bearer {token}".encode()):
        return True
    if not int(config.get("PROXIES") or 0) and any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in config["METRICS_NETWORKS"])


@bp.get("/metrics")
def metrics_view():
    if not _may_read_metrics():
        abort(403, "metrics are readable only from TWESTIVAL_METRICS_ALLOW addresses "
                   "or with the TWESTIVAL_METRICS_TOKEN bearer token")
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
