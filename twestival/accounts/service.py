"""Accounts and API tokens. Operations flush; the caller commits."""
from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .. import audit
from ..campaigns.models import Campaign, City
from ..errors import Conflict, InvalidInput
from ..languages import N_
from . import throttle
from .models import ApiToken, Membership, Role, User

_hasher = PasswordHasher()
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 10


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.fullmatch(email) or len(email) > 254:
        raise InvalidInput(N_("%(email)r is not an email address"), email=email)
    return email


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(session: Session, email: str, *, name: str) -> User:
    email = normalise_email(email)
    if not name or not name.strip():
        raise InvalidInput("name is required")
    if find_user(session, email) is not None:
        raise Conflict(f"a user with email {email} already exists")
    user = User(email=email, name=name.strip())
    session.add(user)
    session.flush()
    return user


def grant(session: Session, user: User, role: Role, campaign: Campaign,
          city: City | None = None, *, actor_id: int | None = None) -> Membership:
    if role is Role.coordinator and city is not None:
        raise InvalidInput(N_("a coordinator works for the whole campaign, not one city"))
    if role in (Role.organiser, Role.volunteer) and city is None:
        raise InvalidInput(N_("organisers and volunteers belong to one city: choose it"))
    if city is not None and city.campaign_id != campaign.id:
        raise InvalidInput(N_("that city is not part of this campaign"))
    same_city = Membership.city_id == city.id if city else Membership.city_id.is_(None)
    existing = session.scalar(select(Membership).where(
        Membership.user_id == user.id, Membership.campaign_id == campaign.id, same_city,
        Membership.role == role))
    if existing:
        return existing
    membership = Membership(user_id=user.id, campaign_id=campaign.id,
                            city_id=city.id if city else None, role=role)
    session.add(membership)
    session.flush()
    audit.record(session, actor_id, "role.granted", subject=user.email, campaign_id=campaign.id,
                 city_id=membership.city_id, details={"role": role.value})
    return membership


def set_password(user: User, password: str) -> None:
    """A new password ends every session signed in with the old one."""
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(N_("a password needs at least %(min)s characters"), min=MIN_PASSWORD)
    if user.password_hash:
        end_sessions(user)
    user.password_hash = _hasher.hash(password)


def reset_password(session: Session, user: User, password: str) -> None:
    """The set-password link: a new password, and the account's wrong-password count forgiven,
    so a throttled owner is never locked out of their own account."""
    set_password(user, password)
    throttle.forgive(session, user.email)


# --- ending sessions -----------------------------------------------------------------------
# Sessions are signed cookies holding "<user id>:<epoch>"; the user loader turns away any
# whose epoch is not the user's current one. Raising it ends them all, on every device.

def end_sessions(user: User) -> None:
    user.session_epoch = (user.session_epoch or 0) + 1


def session_is_current(user: User, epoch: int) -> bool:
    return user.active and epoch == (user.session_epoch or 0)


def deactivate(user: User) -> None:
    user.active = False
    end_sessions(user)


def remove_role(session: Session, membership: Membership) -> None:
    """Takes a role away; the person signs in again to work with what they still have."""
    user = session.get(User, membership.user_id)
    session.delete(membership)
    end_sessions(user)
    session.flush()


def check_password(user: User | None, password: str) -> bool:
    if user is None or not user.password_hash or not user.active:
        # Spend the same time as a real check, so timing does not reveal who has an account.
        _hasher.hash(password or "x")
        return False
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def roles_for(user: User, campaign_id: int) -> list[Membership]:
    return [m for m in user.memberships if m.campaign_id == campaign_id]


# --- API tokens ----------------------------------------------------------------------------

def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, campaign: Campaign, city: City | None = None,
                 label: str | None = None, *, actor_id: int | None = None) -> tuple[ApiToken, str]:
    """Returns the stored token row and the secret, which is shown once and never kept."""
    secret = "tw_" + secrets.token_urlsafe(32)
    row = ApiToken(campaign_id=campaign.id, city_id=city.id if city else None,
                   token_hash=_digest(secret), prefix=secret[:10], label=label)
    session.add(row)
    session.flush()
    audit.record(session, actor_id, "token.created", subject=f"token {row.prefix}…",
                 campaign_id=campaign.id, city_id=row.city_id, details={"label": label})
    return row, secret


# Built once: the API looks a token up on every call.
_TOKEN_BY_HASH = select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"))


def token_from_secret(session: Session, secret: str) -> ApiToken | None:
    if not secret or len(secret) > 200:
        return None
    row = session.scalar(_TOKEN_BY_HASH, {"token_hash": _digest(secret)})
    if row is None or row.revoked_at is not None:
        return None
    return row
