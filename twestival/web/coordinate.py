"""The coordinators' desk (/coordinate/<campaign>): approvals, cities, provisional cash to
confirm, people and invitations, reconciliation, and links to the other coordinator pages.
Editing cities and people, campaigns and the audit log are in ``coordinate_admin``."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..accounts.invitations import invite, people
from ..accounts.models import Role
from ..campaigns import applications, table
from ..campaigns.models import Campaign, CityStatus
from ..campaigns.service import get_campaign, get_city
from ..errors import DomainError
from ..extensions import db
from ..ledger import fx, reconcile
from ..ledger.verify import digest
from ..storage.database import utcnow
from ..streams import cash
from ..text import render_markdown
from . import mails
from .authz import require_coordinator
from .forms import options
from .i18n import say

bp = Blueprint("coordinate", __name__, url_prefix="/coordinate")


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=options([
        (Role.organiser.value, _l("organiser")), (Role.volunteer.value, _l("volunteer")),
        (Role.coordinator.value, _l("coordinator"))]))
    # Ignored for coordinators (the whole campaign): so the defaults, an organiser of the
    # first city, are always a valid invitation.
    city = SelectField(_l("City (organisers and volunteers)"), validators=[Optional()])


def _campaign(campaign: str) -> Campaign:
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return camp


def _invite_form(camp: Campaign) -> InviteForm:
    form = InviteForm()
    places = [c for c in camp.cities if c.status is CityStatus.approved]
    form.city.choices = options([(c.slug, c.name) for c in places] or [("", "—")])
    if not places and not form.is_submitted():
        form.role.data = Role.coordinator.value   # no city yet: only a coordinator can join
    return form


def _dashboard(camp: Campaign, invite_form: InviteForm | None = None, status: int = 200,
               approve_error: str | None = None):
    pending = applications.pending(db.session, camp)
    query = table.Query.from_args(request.args)
    return render_template(
        "coordinate/dashboard.html", campaign=camp, pending=pending,
        duplicates=applications.duplicates(db.session, camp, pending),
        descriptions={a.id: render_markdown(a.city.description_md) for a in pending},
        rows=table.cities(db.session, camp, query), query=query, sorts=table.SORTS,
        countries=table.countries(db.session, camp), states=[s.value for s in CityStatus],
        awaiting=cash.awaiting_confirmation(db.session, camp),
        people=people(db.session, camp), invite_form=invite_form or _invite_form(camp),
        approve_error=approve_error, drifts=reconcile(db.session, camp),
        digest=digest(db.session, camp),
        missing_rates=fx.cities_without_rates(db.session, camp, utcnow().date())), status


@bp.get("/<campaign>")
def dashboard(campaign: str):
    return _dashboard(_campaign(campaign))



@bp.post("/<campaign>/cities/<city>/approve")
def approve(campaign: str, city: str):
    camp = _campaign(campaign)
    place = get_city(db.session, camp, city)
    try:
        row, organiser = applications.approve(db.session, place, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _dashboard(camp, status=409, approve_error=say(exc))
    mails.application_approved(row, organiser)
    db.session.commit()
    flash(_("%(city)s is approved; %(email)s was told and invited.", city=place.name,
            email=row.applicant_email))
    return redirect(url_for(".dashboard", campaign=camp.slug), 303)


@bp.post("/<campaign>/applications/approve")
def approve_selected(campaign: str):
    """Approve every ticked application in one go (all or none)."""
    camp = _campaign(campaign)
    try:
        places = [get_city(db.session, camp, slug) for slug in request.form.getlist("city")]
        decided = applications.approve_many(db.session, places, current_user)
    except DomainError as exc:
        db.session.rollback()
        return _dashboard(camp, status=422, approve_error=say(exc))
    for row, organiser in decided:
        mails.application_approved(row, organiser)
    db.session.commit()
    flash(_("Cities approved: %(num)d. Their applicants were told and invited.",
            num=len(decided)))
    return redirect(url_for(".dashboard", campaign=camp.slug, _anchor="approvals"), 303)


@bp.post("/<campaign>/cities/<city>/reject")
def reject(campaign: str, city: str):
    camp = _campaign(campaign)
    place = get_city(db.session, camp, city)
    row = applications.reject(db.session, place, current_user, request.form.get("reason", ""))
    mails.application_rejected(row)
    db.session.commit()
    flash(_("%(city)s is rejected; %(email)s was told why.", city=place.name,
            email=row.applicant_email))
    return redirect(url_for(".dashboard", campaign=camp.slug), 303)


@bp.post("/<campaign>/cash/<int:entry_id>/confirm")
def confirm_cash(campaign: str, entry_id: int):
    camp = _campaign(campaign)
    cash.confirm_count(db.session, camp, entry_id, by_user_id=current_user.id)
    db.session.commit()
    flash(_("The cash entry is confirmed."))
    return redirect(url_for(".dashboard", campaign=camp.slug, _anchor="cash"), 303)


@bp.post("/<campaign>/people")
def invite_person(campaign: str):
    camp = _campaign(campaign)
    form = _invite_form(camp)
    if form.validate_on_submit():
        role = Role(form.role.data)
        try:
            place = (get_city(db.session, camp, form.city.data)
                     if form.city.data and role is not Role.coordinator else None)
            user, membership = invite(db.session, camp, email=form.email.data,
                                      name=form.name.data, role=role, city=place,
                                      actor_id=current_user.id)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            mails.invitation(user, membership, camp, place, current_user)
            db.session.commit()
            flash(_("%(email)s is invited.", email=user.email))
            return redirect(url_for(".dashboard", campaign=camp.slug, _anchor="people"), 303)
    return _dashboard(camp, form, 422)
