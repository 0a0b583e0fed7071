"""Coordinators bring people in: an account (if new) and a role, in one step.

The web layer mails the invitation after commit: a set-password link for someone without a
password yet, a sign-in link for someone who already has one.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..campaigns.models import Campaign, City
from ..errors import InvalidInput
from .models import Membership, Role, User
from .service import create_user, find_user, grant, normalise_email

INVITABLE = (Role.coordinator, Role.organiser, Role.volunteer)


def invite(session: Session, campaign: Campaign, *, email: str, name: str, role: Role,
           city: City | None) -> tuple[User, Membership]:
    if role not in INVITABLE:
        raise InvalidInput("choose a role: coordinator, organiser or volunteer")
    if name and len(name.strip()) > 200:
        raise InvalidInput("the name is too long (at most 200 characters)")
    email = normalise_email(email)
    user = find_user(session, email) or create_user(session, email, name=name)
    return user, grant(session, user, role, campaign, city)


def people(session: Session, campaign: Campaign) -> list[tuple[Membership, User, City | None]]:
    return [tuple(row) for row in session.execute(
        select(Membership, User, City).join(User, User.id == Membership.user_id)
        .outerjoin(City, City.id == Membership.city_id)
        .where(Membership.campaign_id == campaign.id)
        .order_by(Membership.role, City.name, User.name))]
