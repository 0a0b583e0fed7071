"""Recording and reading the audit log. ``record`` flushes; the caller commits."""
from __future__ import annotations

import dataclasses

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..campaigns.models import City
from ..storage.database import utcnow
from .models import AuditEntry

# Every action the log knows, in the order the coordinator's filter lists them.
ACTIONS = (
    "cash.confirmed", "cash.reversed", "money.assigned",
    "city.approved", "city.rejected", "city.withdrawn", "city.edited",
    "campaign.created", "campaign.edited", "campaign.opened", "campaign.closed",
    "role.granted", "role.removed", "account.deactivated", "account.reactivated",
    "invitation.resent", "token.created", "token.revoked", "gift.hidden", "gift.shown",
    "donor.exported", "donor.erased", "match.created", "match.edited",
    "runsheet.added", "runsheet.edited", "runsheet.removed",
    "sponsor.added", "sponsor.edited", "sponsor.removed",
)


def record(session: Session, actor_id: int | None, action: str, *, subject: str,
           campaign_id: int | None = None, city_id: int | None = None,
           reason: str | None = None, details: dict | None = None) -> AuditEntry:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    row = AuditEntry(at=utcnow(), actor_id=actor_id, action=action, subject=subject[:300],
                     campaign_id=campaign_id, city_id=city_id,
                     reason=(reason or "").strip() or None, details=details or None)
    session.add(row)
    session.flush()
    return row


PAGE = 500   # lines shown at once; the filters narrow it down


@dataclasses.dataclass(frozen=True)
class Line:
    entry: AuditEntry
    actor: User | None
    city: City | None


def entries(session: Session, campaign_id: int, *, action: str | None = None,
            city_id: int | None = None, person: str | None = None,
            limit: int = PAGE) -> list[Line]:
    """The campaign's log, newest first. ``person`` matches the actor's name or email, or the
    subject (so a search for someone finds both what they did and what was done to them)."""
    query = (select(AuditEntry, User, City)
             .outerjoin(User, User.id == AuditEntry.actor_id)
             .outerjoin(City, City.id == AuditEntry.city_id)
             .where(AuditEntry.campaign_id == campaign_id))
    if action:
        query = query.where(AuditEntry.action == action)
    if city_id is not None:
        query = query.where(AuditEntry.city_id == city_id)
    if person:
        pattern = f"%{person.strip().lower()}%"
        query = query.where(or_(User.email.like(pattern), User.name.ilike(pattern),
                                AuditEntry.subject.ilike(pattern)))
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return [Line(*row) for row in session.execute(query)]

