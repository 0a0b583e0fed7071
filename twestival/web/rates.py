"""The coordinators' exchange rates (/coordinate/<campaign>/rates): which rate converts each
of the campaign's currencies and where it came from, entering a rate the ECB does not
publish, and the campaign's rate policy (each gift's own day, or one fixed day)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from ..campaigns.models import Campaign, City, CityStatus
from ..errors import DomainError
from ..extensions import db
from ..ledger import fx
from ..storage.database import utcnow
from .coordinate import _campaign
from .forms import options
from .i18n import say

bp = Blueprint("rates", __name__, url_prefix="/coordinate")


class RateForm(FlaskForm):
    currency = SelectField(_l("Currency"))
    rate = StringField(_l("Units of the currency for 1 EUR"), validators=[
        DataRequired(), Length(max=32),
        Regexp(r"^[0-9]+(\.[0-9]{1,10})?$",
               message=_l("Write the rate as a decimal number such as 140.25."))])
    day = DateField(_l("Date of the rate"), validators=[DataRequired()])
    source = StringField(_l("Source (e.g. Central Bank of Kenya)"),
                         validators=[DataRequired(), Length(max=200)])

    def validate_rate(self, field):
        if field.data and not any(ch in "123456789" for ch in field.data):
            raise ValidationError(_("The rate must be more than zero."))


class PolicyForm(FlaskForm):
    policy = RadioField(_l("Rates for the campaign's gifts"), choices=options([
        ("daily", _l("each gift at the rates of its own day")),
        ("fixed", _l("every gift at the rates of one day"))]), default="daily")
    fixed_on = DateField(_l("That day"), validators=[Optional()])

    def validate(self, extra_validators=None):
        # Not an inline validator: Optional() ends the field's chain on an empty day.
        if not super().validate(extra_validators):
            return False
        if self.policy.data == "fixed" and self.fixed_on.data is None:
            self.fixed_on.errors = [_("Choose the day whose rates every gift uses.")]
            return False
        return True


def _currencies(camp: Campaign) -> dict[str, list[City]]:
    used: dict[str, list[City]] = {camp.currency: []}
    for city in db.session.scalars(select(City).where(City.campaign_id == camp.id)
                                   .order_by(City.name)):
        if city.status is not CityStatus.rejected:
            used.setdefault(city.currency, []).append(city)
    return dict(sorted(used.items()))


def _rate_form(camp: Campaign) -> RateForm:
    form = RateForm()
    enterable = [c for c in _currencies(camp) if fx.enterable(c)]
    form.currency.choices = options([(c, c) for c in enterable])
    if not form.is_submitted():
        # Offer first what stops a city from taking gifts.
        lacking = fx.missing(db.session, enterable, fx.night(camp, utcnow().date()))
        form.currency.data = lacking[0] if lacking else None
        form.day.data = utcnow().date()
    return form


def _policy_form(camp: Campaign) -> PolicyForm:
    form = PolicyForm()
    if not form.is_submitted():
        form.policy.data = "fixed" if camp.fx_fixed_on else "daily"
        form.fixed_on.data = camp.fx_fixed_on
    return form


def _page(camp: Campaign, rate_form: RateForm | None = None,
          policy_form: PolicyForm | None = None, status: int = 200):
    used = _currencies(camp)
    day = fx.night(camp, utcnow().date())
    return render_template(
        "coordinate/rates.html", campaign=camp, day=day, used=used,
        in_use={c: fx.rate_in_use(db.session, c, day) for c in used},
        history=fx.entered_rates(db.session, used),
        rate_form=rate_form or _rate_form(camp),
        policy_form=policy_form or _policy_form(camp)), status


@bp.get("/<campaign>/rates")
def rates(campaign: str):
    return _page(_campaign(campaign))


@bp.post("/<campaign>/rates")
def enter_rate(campaign: str):
    camp = _campaign(campaign)
    form = _rate_form(camp)
    if form.validate_on_submit():
        try:
            row = fx.enter_rate(db.session, form.currency.data, form.rate.data, form.day.data,
                                form.source.data, by=current_user.email)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            db.session.commit()
            flash(_("%(currency)s: %(rate)s per EUR from %(date)s (%(source)s) is entered.",
                    currency=row.currency, rate=row.per_eur, date=row.date.isoformat(),
                    source=row.note))
            return redirect(url_for(".rates", campaign=camp.slug), 303)
    return _page(camp, rate_form=form, status=422)


@bp.post("/<campaign>/rates/policy")
def set_policy(campaign: str):
    camp = _campaign(campaign)
    form = _policy_form(camp)
    if form.validate_on_submit():
        fx.fix_rates(db.session, camp, form.fixed_on.data if form.policy.data == "fixed" else None)
        db.session.commit()
        flash(_("Every gift from now on converts at the rates of %(date)s.",
                date=camp.fx_fixed_on.isoformat()) if camp.fx_fixed_on else
              _("Each gift from now on converts at the rates of its own day."))
        return redirect(url_for(".rates", campaign=camp.slug), 303)
    return _page(camp, policy_form=form, status=422)
