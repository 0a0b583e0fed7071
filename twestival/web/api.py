"""JSON API v1: the leaderboard for anyone, donations for holders of a bearer token."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from ..accounts.service import token_from_secret
from ..campaigns.directory import approved_city_by_slug, campaign_by_slug
from ..campaigns.service import get_campaign, get_city
from ..errors import NotFound
from ..extensions import csrf, db
from ..live import gifts as gift_wall
from ..live.board import history
from ..live.publisher import words
from ..streams import api as api_stream
from ..streams.inbox.receive import receive
from . import pagecache, shown
from .errors import error_response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _public(response):
    """Read-only public figures: any site may fetch them (a city's own page, a widget)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/campaigns/<campaign>/leaderboard")
@pagecache.public(localised=False)
def leaderboard(campaign: str):
    camp = get_campaign(db.session, campaign)
    return _public(jsonify(shown.board(camp)))


@bp.get("/campaigns/<campaign>/history")
@pagecache.public(localised=False)
def progress_history(campaign: str):
    """Campaign total over time: [[unix ms, total minor], ...] in the reporting currency."""
    camp = get_campaign(db.session, campaign)
    return _public(jsonify(campaign=camp.slug, currency=camp.currency,
                           points=history(db.session, camp)))


@bp.get("/campaigns/<campaign>/gifts")
@pagecache.public(localised=False)
def gifts(campaign: str):
    """The gift wall, newest first; ``before`` (a gift id) pages back, ``city`` narrows."""
    camp = get_campaign(db.session, campaign)
    limit, before = gift_wall.page_args(request.args.get("limit"), request.args.get("before"))
    city_slug = request.args.get("city")
    place = get_city(db.session, camp, city_slug, approved_only=True) if city_slug else None
    found = gift_wall.latest(db.session, camp, words(current_app), city=place, limit=limit,
                             before=before)
    return _public(jsonify(gifts=found))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


@bp.post("/campaigns/<campaign>/cities/<city>/donations")
def donate(campaign: str, city: str):
    secret = _bearer()
    if secret is None:
        return error_response(401, "send Authorization: Bearer <token>")
    token = token_from_secret(db.session, secret)
    if token is None:
        return error_response(401, "unknown or revoked API token")
    camp = campaign_by_slug(db.session, campaign)
    if camp is None:
        raise NotFound(f"no campaign {campaign!r}")
    place = approved_city_by_slug(db.session, camp.id, city)
    if place is None:
        raise NotFound(f"no city {city!r} in campaign {camp.slug!r}")
    if token.campaign_id != camp.id or (token.city_id is not None and token.city_id != place.id):
        return error_response(403, "this token may not post donations for that city")
    if request.mimetype != "application/json":
        return error_response(415, "send the body as Content-Type: application/json")
    if (request.content_length or 0) > current_app.config["API_MAX_BODY"]:
        abort(413, "request body is too large")
    body = request.get_data(cache=False)
    if len(body) > current_app.config["API_MAX_BODY"]:
        abort(413, "request body is too large")
    key = request.headers.get("Idempotency-Key")
    api_stream.check_key(key)

    status, result = receive(
        db.session, api_stream.STREAM, body,
        lambda payload: api_stream.submit_donation(db.session, token, camp, place, key, payload),
        headers=request.headers, content_type=request.content_type, external_id=key,
        campaign_id=camp.id, meta={"token_id": token.id, "city": place.slug})
    return jsonify(result), status
