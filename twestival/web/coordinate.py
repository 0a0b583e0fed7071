"""The coordinators' desk (/coordinate/<campaign>): approvals, cities, provisional cash to
confirm, people and invitations, reconciliation, and links to the other coordinator pages."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..accounts.invitations import invite, people
from ..accounts.models import Role
from ..campaigns import applications
from ..campaigns.models import Campaign, City
from ..campaigns.service import get_campaign, get_city
from ..errors import DomainError
from ..extensions import db
from ..ledger import fx, reconcile
from ..ledger.verify import digest
from ..ledger.models import CityTotal
from ..storage.database import utcnow
from ..streams import cash
from ..text import render_markdown
from . import mails
from .authz import require_coordinator
from .forms import options

bp = Blueprint("coordinate", __name__, url_prefix="/coordinate")


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(_l("Role"), choices=options([
        (Role.organiser.value, _l("organiser")), (Role.volunteer.value, _l("volunteer")),
        (Role.coordinator.value, _l("coordinator"))]))
    city = SelectField(_l("City"), validators=[Optional()])


def _campaign(campaign: str) -> Campaign:
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return camp


def _invite_form(camp: Campaign, formdata=None) -> InviteForm:
    form = InviteForm(formdata=formdata) if formdata is not None else InviteForm()
    form.city.choices = options([("", _("— whole campaign (coordinators) —"))] + [
        (c.slug, c.name) for c in camp.cities])
    return form


def _dashboard(camp: Campaign, invite_form: InviteForm | None = None, status: int = 200):
    totals = {t.city_id: t for t in db.session.scalars(
        select(CityTotal).where(CityTotal.campaign_id == camp.id))}
    pending = applications.pending(db.session, camp)
    return render_template(
        "coordinate/dashboard.html", campaign=camp, pending=pending,
        descriptions={a.id: render_markdown(a.city.description_md) for a in pending},
        cities=list(db.session.scalars(select(City).where(City.campaign_id == camp.id)
                                       .order_by(City.status, City.name))),
        totals=totals, awaiting=cash.awaiting_confirmation(db.session, camp),
        people=people(db.session, camp), invite_form=invite_form or _invite_form(camp),
        drifts=reconcile(db.session, camp), digest=digest(db.session, camp),
        missing_rates=fx.cities_without_rates(db.session, camp, utcnow().date())), status


@bp.get("/<campaign>")
def dashboard(campaign: str):
    return _dashboard(_campaign(campaign))



@bp.post("/<campaign>/cities/<city>/approve")
def approve(campaign: str, city: str):
    camp = _campaign(campaign)
    place = get_city(db.session, camp, city)
    row, organiser = applications.approve(db.session, place, current_user)
    mails.application_approved(row, organiser)
    db.session.commit()
    flash(_("%(city)s is approved; %(email)s was told and invited.", city=place.name,
            email=row.applicant_email))
    return redirect(url_for(".dashboard", campaign=camp.slug), 303)


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
        try:
            place = get_city(db.session, camp, form.city.data) if form.city.data else None
            user, membership = invite(db.session, camp, email=form.email.data,
                                      name=form.name.data, role=Role(form.role.data), city=place)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
        else:
            mails.invitation(user, membership, camp, place, current_user)
            db.session.commit()
            flash(_("%(email)s is invited.", email=user.email))
            return redirect(url_for(".dashboard", campaign=camp.slug, _anchor="people"), 303)
    return _dashboard(camp, form, 422)
