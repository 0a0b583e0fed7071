"""Coordinators bring people in: an account (if new) and a role, in one step; and take them
out again: a role removed, an account deactivated.

The web layer mails the invitation after commit: a set-password link for someone without a
password yet, a sign-in link for someone who already has one. Operations flush; the caller
commits.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..campaigns.models import Campaign, City
from ..errors import Conflict, InvalidInput, NotFound
from ..languages import N_
from .models import Membership, Role, User
from . import service
from .service import create_user, find_user, grant, normalise_email

INVITABLE = (Role.coordinator, Role.organiser, Role.volunteer)


def invite(session: Session, campaign: Campaign, *, email: str, name: str, role: Role,
           city: City | None, actor_id: int | None = None) -> tuple[User, Membership]:
    if role not in INVITABLE:
        raise InvalidInput(N_("choose a role: coordinator, organiser or volunteer"))
    if name and len(name.strip()) > 200:
        raise InvalidInput(N_("the name is too long (at most 200 characters)"))
    email = normalise_email(email)
    user = find_user(session, email) or create_user(session, email, name=name)
    return user, grant(session, user, role, campaign, city, actor_id=actor_id)


def people(session: Session, campaign: Campaign) -> list[tuple[Membership, User, City | None]]:
    return [tuple(row) for row in session.execute(
        select(Membership, User, City).join(User, User.id == Membership.user_id)
        .outerjoin(City, City.id == Membership.city_id)
        .where(Membership.campaign_id == campaign.id)
        .order_by(Membership.role, City.name, User.name))]


def membership(session: Session, campaign: Campaign, membership_id: int) -> Membership:
    row = session.get(Membership, membership_id)
    if row is None or row.campaign_id != campaign.id:
        raise NotFound(N_("no such role in this campaign"))
    return row


def member(session: Session, campaign: Campaign, user_id: int) -> User:
    """Someone with a role in this campaign; anyone else looks missing."""
    user = session.get(User, user_id)
    if user is None or not any(m.campaign_id == campaign.id for m in user.memberships):
        raise NotFound(N_("nobody with that account works on this campaign"))
    return user


def _coordinators(session: Session, campaign: Campaign) -> list[Membership]:
    return list(session.scalars(select(Membership).join(User, User.id == Membership.user_id).where(
        Membership.campaign_id == campaign.id, Membership.role == Role.coordinator,
        User.active.is_(True))))


def remove_role(session: Session, campaign: Campaign, membership_id: int, *,
                actor_id: int | None) -> Membership:
    row = membership(session, campaign, membership_id)
    if row.role is Role.coordinator and [m.id for m in _coordinators(session, campaign)] == [row.id]:
        raise Conflict(N_("this is the campaign's last coordinator: invite another one first"))
    user = session.get(User, row.user_id)
    audit.record(session, actor_id, "role.removed", subject=user.email, campaign_id=campaign.id,
                 city_id=row.city_id, details={"role": row.role.value})
    service.remove_role(session, row)   # also ends the person's sessions
    return row


def set_active(session: Session, campaign: Campaign, user_id: int, active: bool, *,
               actor_id: int | None) -> User:
    """Deactivate (or reactivate) an account. An inactive account cannot sign in, and the
    sessions it has end at once (``service.deactivate``; the user loader also refuses inactive
    accounts)."""
    user = member(session, campaign, user_id)
    if user.id == actor_id:
        raise Conflict(N_("you cannot deactivate your own account"))
    if any(m.campaign_id != campaign.id for m in user.memberships):
        raise Conflict(N_("this person also works on another campaign: remove their roles here "
                          "instead"))
    if user.active == active:
        return user
    if not active and all(m.user_id == user.id for m in _coordinators(session, campaign)):
        raise Conflict(N_("this is the campaign's last coordinator: invite another one first"))
    if active:
        user.active = True
    else:
        service.deactivate(user)
    audit.record(session, actor_id, "account.reactivated" if active else "account.deactivated",
                 subject=user.email, campaign_id=campaign.id)
    session.flush()
    return user


def resend(session: Session, campaign: Campaign, membership_id: int, *,
           actor_id: int | None) -> tuple[User, Membership]:
    """The same account and role, invited again (the web layer mails a fresh link)."""
    row = membership(session, campaign, membership_id)
    user = session.get(User, row.user_id)
    if not user.active:
        raise Conflict(N_("this account is deactivated: reactivate it first"))
    audit.record(session, actor_id, "invitation.resent", subject=user.email,
                 campaign_id=campaign.id, city_id=row.city_id, details={"role": row.role.value})
    return user, row
