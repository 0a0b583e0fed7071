"""Who may do what: coordinators their campaign, organisers and volunteers their own city.

Views call ``require_city`` / ``require_coordinator`` first; an anonymous visitor is sent to
/login, a signed-in person without the role gets 403 (never a hint about other cities).
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from ..accounts.models import Role
from ..campaigns.models import Campaign, City
from ..extensions import login_manager


def _signed_in():
    if not current_user.is_authenticated:
        abort(login_manager.unauthorized())
    return current_user


def roles(campaign: Campaign, city: City | None = None) -> set[Role]:
    if not current_user.is_authenticated:
        return set()
    found = set()
    for membership in current_user.memberships:
        if membership.campaign_id != campaign.id:
            continue
        if membership.role is Role.coordinator:
            found.add(Role.coordinator)
        elif city is not None and membership.city_id == city.id:
            found.add(membership.role)
    return found


def require_coordinator(campaign: Campaign):
    user = _signed_in()
    if Role.coordinator not in roles(campaign):
        abort(403)
    return user


def require_city(campaign: Campaign, city: City, allowed=(Role.organiser, Role.coordinator)):
    """Coordinators of the campaign pass wherever organisers of the city do."""
    user = _signed_in()
    if not roles(campaign, city) & set(allowed):
        abort(403)
    return user
