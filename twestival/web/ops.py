"""Operations endpoints: health for load balancers, metrics for Prometheus."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
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


@bp.get("/metrics")
def metrics_view():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)
