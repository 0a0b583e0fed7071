"""API tokens after their creation (``service.create_token``): listed, labelled, revoked.
Operations flush; the caller commits."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..campaigns.models import Campaign
from ..errors import InvalidInput, NotFound
from ..languages import N_
from ..storage.database import utcnow
from .models import ApiToken
from .service import _digest


def tokens(session: Session, campaign: Campaign) -> list[ApiToken]:
    """The campaign's tokens, live ones first, newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.campaign_id == campaign.id)
                                .order_by(ApiToken.revoked_at.is_not(None),
                                          ApiToken.created_at.desc(), ApiToken.id.desc())))


def get_token(session: Session, campaign: Campaign, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.campaign_id != campaign.id:
        raise NotFound("no such API token in this campaign")
    return row


def label_token(session: Session, token: ApiToken, label: str) -> None:
    label = (label or "").strip()
    if len(label) > 200:
        raise InvalidInput(N_("a label has at most 200 characters"))
    token.label = label or None
    session.flush()


def tokens_by_prefix(session: Session, campaign: Campaign, prefix: str) -> list[ApiToken]:
    """The campaign's live tokens whose stored prefix starts with ``prefix`` (or, given a
    whole secret, the one it opens)."""
    prefix = (prefix or "").strip()
    if len(prefix) < 6:
        raise InvalidInput("give at least the first 6 characters of the token (e.g. tw_AbC)")
    query = select(ApiToken).where(ApiToken.campaign_id == campaign.id,
                                   ApiToken.revoked_at.is_(None))
    if len(prefix) > 16:
        return list(session.scalars(query.where(ApiToken.token_hash == _digest(prefix))))
    return [row for row in session.scalars(query)
            if row.prefix.startswith(prefix) or prefix.startswith(row.prefix)]


def revoke_token(session: Session, token: ApiToken, *, by: str, actor_id: int | None = None,
                 reason: str | None = None) -> bool:
    """Revoke a token for good: the API answers 401 to it from the next request on.
    Returns False if it was revoked already (the first revocation's who and why stand)."""
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise InvalidInput(N_("a reason has at most 500 characters"))
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    token.revoked_by = by
    token.revoke_reason = reason or None
    session.flush()
    audit.record(session, actor_id, "token.revoked", subject=f"token {token.prefix}…",
                 campaign_id=token.campaign_id, city_id=token.city_id, reason=reason)
    return True
