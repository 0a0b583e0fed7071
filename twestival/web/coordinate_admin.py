"""What coordinators change in the browser beyond the daily desk: campaigns (create, edit,
open, close), a city's details and its withdrawal, people's roles and accounts, and the audit
log that records all of it. Views authorise, then call one domain function."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import DataRequired, Length, Optional

from .. import audit
from ..accounts import invitations
from ..accounts.models import Role
from ..accounts.service import grant
from ..campaigns import applications
from ..campaigns.models import Campaign, City
from ..campaigns.pages import LIMITS
from ..campaigns.service import (create_campaign, get_campaign, get_city, set_open,
                                 update_campaign, update_city)
from ..errors import DomainError
from ..extensions import db
from ..money import Money
from . import mails
from .authz import require_coordinator
from .forms import currency_choices, options, timezones
from .i18n import say

bp = Blueprint("coordinate_admin", __name__)


def _campaign(campaign: str) -> Campaign:
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return camp


def _back(camp: Campaign, anchor: str):
    return redirect(url_for("coordinate.dashboard", campaign=camp.slug, _anchor=anchor), 303)


def _refused(camp: Campaign, exc: DomainError, anchor: str):
    """A refusal on a one-button form: said at the top of the desk, nothing changed."""
    db.session.rollback()
    flash(say(exc))
    return _back(camp, anchor)


# --- campaigns ----------------------------------------------------------------------------

class CampaignForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    event_date = DateField(_l("Date of the night"), validators=[Optional()])
    charity = StringField(_l("Charity"), validators=[Optional(), Length(max=200)])


class NewCampaignForm(CampaignForm):
    slug = StringField(_l("Short name in links (e.g. twestival-2027)"),
                       validators=[DataRequired(), Length(max=64)])
    currency = SelectField(_l("Reporting currency"))


def _site_coordinator():
    """Anyone who coordinates a campaign may start another (the first is made on the
    command line: `twestival campaign create` and `twestival user create`)."""
    if not any(m.role is Role.coordinator for m in current_user.memberships):
        abort(403)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required
def new_campaign():
    _site_coordinator()
    form = NewCampaignForm()
    form.currency.choices = options(currency_choices())
    if not form.is_submitted():
        form.currency.data = "EUR"
    if form.validate_on_submit():
        try:
            camp = create_campaign(db.session, form.slug.data.strip(), name=form.name.data,
                                   currency=form.currency.data, event_date=form.event_date.data,
                                   charity=form.charity.data, actor_id=current_user.id)
            grant(db.session, current_user, Role.coordinator, camp, actor_id=current_user.id)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            db.session.commit()
            flash(_("%(name)s is created; you coordinate it.", name=camp.name))
            return redirect(url_for("coordinate.dashboard", campaign=camp.slug), 303)
    return render_template("coordinate/campaign.html", form=form, campaign=None), \
        422 if form.is_submitted() else 200


@bp.route("/coordinate/<campaign>/settings", methods=["GET", "POST"])
def campaign_settings(campaign: str):
    camp = _campaign(campaign)
    form = CampaignForm(obj=camp)
    if form.validate_on_submit():
        try:
            update_campaign(db.session, camp, name=form.name.data, event_date=form.event_date.data,
                            charity=form.charity.data, actor_id=current_user.id)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            db.session.commit()
            flash(_("The campaign is saved."))
            return redirect(url_for(".campaign_settings", campaign=camp.slug), 303)
    return render_template("coordinate/campaign.html", form=form, campaign=camp), \
        422 if form.is_submitted() else 200


@bp.post("/coordinate/<campaign>/settings/state")
def campaign_state(campaign: str):
    camp = _campaign(campaign)
    is_open = request.form.get("state") == "open"
    set_open(db.session, camp, is_open, actor_id=current_user.id)
    db.session.commit()
    flash(_("The campaign is open for applications.") if is_open
          else _("The campaign is closed: it takes no new applications."))
    return redirect(url_for(".campaign_settings", campaign=camp.slug), 303)


# --- cities -------------------------------------------------------------------------------

class CityForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    target = StringField(_l("Target (in the city's currency)"), validators=[DataRequired(), Length(max=30)])
    currency = SelectField(_l("Currency"))
    timezone = SelectField(_l("Time zone"))
    venue = StringField(_l("Venue"), validators=[Optional(), Length(max=LIMITS["venue"])])
    ticket_url = URLField(_l("Ticket link"), validators=[Optional(), Length(max=LIMITS["ticket_url"])])
    reason = StringField(_l("Why (for the audit log, optional)"), validators=[Optional(), Length(max=500)])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why is the city withdrawn?"), validators=[DataRequired(), Length(max=2000)])


def _city_form(place: City) -> CityForm:
    form = CityForm(obj=place)
    form.currency.choices = options(currency_choices())
    form.timezone.choices = options((z, z) for z in timezones())
    if not form.is_submitted():
        form.target.data = Money(place.target_minor, place.currency).major_str()
    return form


@bp.route("/coordinate/<campaign>/cities/<city>/edit", methods=["GET", "POST"])
def edit_city(campaign: str, city: str):
    camp = _campaign(campaign)
    place = get_city(db.session, camp, city)
    form = _city_form(place)
    if form.validate_on_submit():
        try:
            update_city(db.session, place, name=form.name.data, currency=form.currency.data,
                        timezone=form.timezone.data, target=form.target.data,
                        venue=form.venue.data, ticket_url=form.ticket_url.data,
                        actor_id=current_user.id, reason=form.reason.data)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            db.session.commit()
            flash(_("%(city)s is saved.", city=place.name))
            return _back(camp, "cities")
    return render_template("coordinate/city.html", campaign=camp, place=place, form=form,
                           withdraw_form=WithdrawForm()), 422 if form.is_submitted() else 200


@bp.post("/coordinate/<campaign>/cities/<city>/withdraw")
def withdraw_city(campaign: str, city: str):
    camp = _campaign(campaign)
    place = get_city(db.session, camp, city)
    form = WithdrawForm()
    if not form.validate_on_submit():
        return render_template("coordinate/city.html", campaign=camp, place=place,
                               form=_city_form(place), withdraw_form=form), 422
    try:
        applications.withdraw(db.session, place, current_user, form.reason.data)
    except DomainError as exc:
        return _refused(camp, exc, "cities")
    db.session.commit()
    flash(_("%(city)s is withdrawn. Its money stays in the ledger and on the statement.",
            city=place.name))
    return _back(camp, "cities")


# --- people -------------------------------------------------------------------------------

@bp.post("/coordinate/<campaign>/people/<int:membership_id>/remove")
def remove_role(campaign: str, membership_id: int):
    camp = _campaign(campaign)
    try:
        invitations.remove_role(db.session, camp, membership_id, actor_id=current_user.id)
    except DomainError as exc:
        return _refused(camp, exc, "people")
    db.session.commit()
    flash(_("The role is removed."))
    return _back(camp, "people")


@bp.post("/coordinate/<campaign>/people/<int:membership_id>/resend")
def resend_invitation(campaign: str, membership_id: int):
    camp = _campaign(campaign)
    try:
        user, membership = invitations.resend(db.session, camp, membership_id,
                                              actor_id=current_user.id)
    except DomainError as exc:
        return _refused(camp, exc, "people")
    place = db.session.get(City, membership.city_id) if membership.city_id else None
    mails.invitation(user, membership, camp, place, current_user)
    db.session.commit()
    flash(_("The invitation to %(email)s is sent again.", email=user.email))
    return _back(camp, "people")


@bp.post("/coordinate/<campaign>/accounts/<int:user_id>/<any(deactivate, reactivate):change>")
def account_state(campaign: str, user_id: int, change: str):
    camp = _campaign(campaign)
    try:
        user = invitations.set_active(db.session, camp, user_id, change == "reactivate",
                                      actor_id=current_user.id)
    except DomainError as exc:
        return _refused(camp, exc, "people")
    db.session.commit()
    flash(_("%(email)s can sign in again.", email=user.email) if user.active
          else _("%(email)s is deactivated and signed out everywhere.", email=user.email))
    return _back(camp, "people")


# --- the audit log ------------------------------------------------------------------------

ACTION_LABELS = {
    "cash.confirmed": _l("cash confirmed"), "cash.reversed": _l("cash reversed"),
    "money.assigned": _l("unassigned money assigned"), "city.approved": _l("city approved"),
    "city.rejected": _l("city rejected"), "city.withdrawn": _l("city withdrawn"),
    "city.edited": _l("city edited"), "campaign.created": _l("campaign created"),
    "campaign.edited": _l("campaign edited"), "campaign.opened": _l("campaign opened"),
    "campaign.closed": _l("campaign closed"), "role.granted": _l("role granted"),
    "role.removed": _l("role removed"), "account.deactivated": _l("account deactivated"),
    "account.reactivated": _l("account reactivated"), "invitation.resent": _l("invitation sent again"),
    "token.created": _l("API token created"), "token.revoked": _l("API token revoked"),
    "gift.hidden": _l("gift hidden"), "gift.shown": _l("gift shown again"),
    "donor.exported": _l("donor's data exported"), "donor.erased": _l("donor erased"),
    "match.created": _l("match gift set up"), "match.edited": _l("match gift changed"),
    "runsheet.added": _l("run sheet item added"), "runsheet.edited": _l("run sheet item changed"),
    "runsheet.removed": _l("run sheet item removed"), "sponsor.added": _l("sponsor added"),
    "sponsor.edited": _l("sponsor changed"), "sponsor.removed": _l("sponsor removed"),
}


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))

@bp.get("/coordinate/<campaign>/audit")
def audit_log(campaign: str):
    camp = _campaign(campaign)
    action = request.args.get("action", "")
    action = action if action in audit.ACTIONS else ""
    city_slug = request.args.get("city", "")
    place = next((c for c in camp.cities if c.slug == city_slug), None)
    person = request.args.get("person", "").strip()[:200]
    lines = audit.entries(db.session, camp.id, action=action or None,
                          city_id=place.id if place else None, person=person or None)
    return render_template("coordinate/audit.html", campaign=camp, lines=lines,
                           actions=audit.ACTIONS, action=action, city=place, person=person,
                           action_label=action_label, page=audit.service.PAGE)
