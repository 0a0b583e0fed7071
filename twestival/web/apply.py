"""'Bring Twestival to your city': the public application form."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Length

from ..campaigns import applications
from ..campaigns.service import get_campaign
from ..errors import DomainError
from ..extensions import db, limiter
from ..ledger import fx
from ..storage.database import utcnow
from . import mails
from .forms import CHOOSE, PageFields, country_choices, currency_choices, options, timezones
from .i18n import say

bp = Blueprint("apply", __name__)


class ApplyForm(PageFields, FlaskForm):
    city_name = StringField(_l("City"), validators=[DataRequired(), Length(max=200)])
    country = SelectField(_l("Country"), validators=[DataRequired()])
    currency = SelectField(_l("Currency"), validators=[DataRequired()])
    timezone = SelectField(_l("Time zone"), validators=[DataRequired()])
    target = StringField(_l("Fundraising target (in the city's currency)"),
                         validators=[DataRequired(), Length(max=30)])
    applicant_name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    applicant_email = EmailField(_l("Your email"), validators=[DataRequired(), Length(max=254)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = options(country_choices())
        self.currency.choices = options([CHOOSE] + currency_choices())
        self.timezone.choices = options([CHOOSE] + [(z, z) for z in timezones()])


def _limit() -> str:
    return current_app.config["APPLY_RATE_LIMIT"]


@bp.route("/c/<campaign>/apply", methods=["GET", "POST"])
@limiter.limit(_limit, methods=["POST"])
def apply(campaign: str):
    camp = get_campaign(db.session, campaign)
    form = ApplyForm()
    no_rate = _flag_missing_rates(form, camp)
    if form.validate_on_submit():
        try:
            row = applications.submit(db.session, camp, applications.Application(
                city_name=form.city_name.data, country=form.country.data,
                currency=form.currency.data, timezone=form.timezone.data,
                target=form.target.data, applicant_name=form.applicant_name.data,
                applicant_email=form.applicant_email.data, page=form.page_details()))
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            mails.application_received(row)
            db.session.commit()
            return render_template("apply/thanks.html", campaign=camp, application=row)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("apply/form.html", campaign=camp, form=form, no_rate=no_rate), status


def _flag_missing_rates(form: ApplyForm, camp) -> set[str]:
    """Mark the currencies no rate converts on the night: a city may still choose one, but it
    knows before the night that the coordinators must enter a rate first."""
    choices = currency_choices()
    no_rate = set(fx.missing(db.session, [code for code, _label in choices],
                             fx.night(camp, utcnow().date())))
    form.currency.choices = options([CHOOSE] + [
        (code, _("%(currency)s (no exchange rate yet)", currency=label) if code in no_rate
         else label) for code, label in choices])
    return no_rate
