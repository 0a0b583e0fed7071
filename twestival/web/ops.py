"""Operations endpoints: health for load balancers."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from ..extensions import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        return jsonify(status="unhealthy", database=str(exc.__class__.__name__)), 503
    return jsonify(status="ok", database="ok")
