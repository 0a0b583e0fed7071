"""Coordinators' and organisers' planning pages: announcements, the timeline and checklists,
and the mail outbox. The dashboards at /organise/<c>/<city> and /coordinate/<c> link here."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (HiddenField, IntegerField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..accounts.models import Role
from ..announcements import service as announcements
from ..campaigns.service import approved_cities, get_campaign, get_city
from ..storage.database import utcnow
from ..errors import DomainError
from ..extensions import db
from ..mail import MAX_ATTEMPTS, MailSettings, configure, outbox_for
from ..planning import timeline
from ..text import render_markdown
from .authz import require_city, require_coordinator
from .forms import options
from .links import external_url
from .templating import locale
from .i18n import say

bp = Blueprint("planning", __name__)
ORGANISERS = (Role.organiser, Role.coordinator)
OUTBOX_PAGE = 200


@bp.record_once
def _configure_mail(state) -> None:
    with state.app.app_context():
        configure(db.engine, MailSettings.from_config(state.app.config))


class AnnouncementForm(FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=announcements.MAX_TITLE)])
    body = TextAreaField(_l("Message (Markdown)"),
                         validators=[DataRequired(), Length(max=announcements.MAX_BODY)])
    cities = SelectMultipleField(_l("Only these cities (none ticked: every city)"),
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())


class MilestoneForm(FlaskForm):
    title = StringField(_l("Milestone"), validators=[DataRequired(), Length(max=timeline.MAX_TITLE)])
    days_before = IntegerField(_l("Days before the event (negative: after)"),
                               validators=[InputRequired(),
                                           NumberRange(-timeline.MAX_DAYS, timeline.MAX_DAYS)])
    details = TextAreaField(_l("Details (Markdown, optional)"),
                            validators=[Optional(), Length(max=timeline.MAX_DETAILS)])


class ActionForm(FlaskForm):
    """A button: nothing but the CSRF token."""


class TickForm(FlaskForm):
    done = HiddenField(validators=[AnyOf(["0", "1"])])


def _form_error(form, exc: DomainError) -> None:
    form.form_errors.append(say(exc))


# --- the outbox -------------------------------------------------------------------------------

@bp.get("/coordinate/<campaign>/outbox")
def outbox(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return render_template("planning/outbox.html", campaign=camp,
                           messages=outbox_for(db.session, camp.id, OUTBOX_PAGE),
                           smtp=bool(current_app.config.get("MAIL_SERVER")),
                           max_attempts=MAX_ATTEMPTS)


# --- announcements ----------------------------------------------------------------------------

@bp.route("/coordinate/<campaign>/announcements", methods=["GET", "POST"])
def coordinate_announcements(campaign: str):
    camp = get_campaign(db.session, campaign)
    user = require_coordinator(camp)
    cities = approved_cities(db.session, camp)
    form = AnnouncementForm()
    form.cities.choices = options((c.slug, c.name) for c in cities)
    status = 200
    if request.method == "POST":
        if form.validate():
            chosen = [c for c in cities if c.slug in set(form.cities.data or [])]
            try:
                announcements.post(
                    db.session, camp, user, title=form.title.data, body_md=form.body.data,
                    cities=chosen, link_for=lambda city: external_url(
                        "planning.organise_announcements", campaign=camp.slug, city=city.slug))
            except DomainError as exc:
                db.session.rollback()
                _form_error(form, exc)
            else:
                db.session.commit()
                flash(_("Announcement posted."))
                return redirect(url_for(".coordinate_announcements", campaign=camp.slug))
        status = 422 if form.errors or form.form_errors else 400
    posted = announcements.for_campaign(db.session, camp)
    names = {c.id: c.name for c in camp.cities}
    return render_template("planning/coordinate_announcements.html", campaign=camp, form=form,
                           posted=posted, names=names, markdown=render_markdown), status


@bp.get("/organise/<campaign>/<city>/announcements")
def organise_announcements(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    user = require_city(camp, place, ORGANISERS)
    rows = announcements.for_city(db.session, user, camp, place)
    return render_template("planning/organise_announcements.html", campaign=camp, city=place,
                           rows=rows, form=ActionForm(), markdown=render_markdown,
                           unread=sum(not seen for _a, seen in rows))


@bp.post("/organise/<campaign>/<city>/announcements/read", defaults={"announcement_id": None})
@bp.post("/organise/<campaign>/<city>/announcements/<int:announcement_id>/read")
def mark_read(campaign: str, city: str, announcement_id: int | None):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    user = require_city(camp, place, ORGANISERS)
    if not ActionForm().validate():
        return render_template("error.html", status=400, message=_("Please try again.")), 400
    announcements.mark_read(db.session, user, camp, place, announcement_id)
    db.session.commit()
    return redirect(url_for(".organise_announcements", campaign=camp.slug, city=place.slug))


# --- the timeline (coordinators) --------------------------------------------------------------

def _timeline_page(camp, form, status=200, edit_forms=None):
    steps, rows = timeline.progress(db.session, camp, utcnow())
    edit_forms = edit_forms or {}
    for step in steps:
        edit_forms.setdefault(step.id, MilestoneForm(
            formdata=None, title=step.title, days_before=step.days_before, details=step.details_md))
    return render_template("planning/timeline.html", campaign=camp, steps=steps, rows=rows,
                           form=form, edit_forms=edit_forms, action=ActionForm(),
                           due_date=timeline.due_date, markdown=render_markdown), status


@bp.get("/coordinate/<campaign>/timeline")
def coordinate_timeline(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return _timeline_page(camp, MilestoneForm(formdata=None))


@bp.post("/coordinate/<campaign>/timeline/default")
def default_timeline(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    if not ActionForm().validate():
        return render_template("error.html", status=400, message=_("Please try again.")), 400
    timeline.create_default_template(db.session, camp, locale())
    db.session.commit()
    flash(_("The default timeline is in place; edit it to suit your campaign."))
    return redirect(url_for(".coordinate_timeline", campaign=camp.slug))


@bp.post("/coordinate/<campaign>/timeline/milestones", defaults={"milestone_id": None})
@bp.post("/coordinate/<campaign>/timeline/milestones/<int:milestone_id>")
def save_milestone(campaign: str, milestone_id: int | None):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    form = MilestoneForm()
    if form.validate():
        fields = {"title": form.title.data, "days_before": form.days_before.data,
                  "details_md": form.details.data}
        try:
            if milestone_id is None:
                timeline.add_milestone(db.session, camp, **fields)
            else:
                timeline.update_milestone(db.session, camp, milestone_id, **fields)
        except DomainError as exc:
            db.session.rollback()
            if exc.status == 404:
                raise
            _form_error(form, exc)
        else:
            db.session.commit()
            flash(_("Milestone saved."))
            return redirect(url_for(".coordinate_timeline", campaign=camp.slug))
    status = 422 if form.errors or form.form_errors else 400
    if milestone_id is None:
        return _timeline_page(camp, form, status)
    timeline.get_milestone(db.session, camp, milestone_id)
    return _timeline_page(camp, MilestoneForm(formdata=None), status, {milestone_id: form})


@bp.post("/coordinate/<campaign>/timeline/milestones/<int:milestone_id>/delete")
def delete_milestone(campaign: str, milestone_id: int):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    if not ActionForm().validate():
        return render_template("error.html", status=400, message=_("Please try again.")), 400
    timeline.delete_milestone(db.session, camp, milestone_id)
    db.session.commit()
    flash(_("Milestone removed."))
    return redirect(url_for(".coordinate_timeline", campaign=camp.slug))


# --- the checklist (organisers) ---------------------------------------------------------------

@bp.get("/organise/<campaign>/<city>/checklist")
def checklist(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    require_city(camp, place, ORGANISERS)
    progress = timeline.checklist(db.session, camp, place, utcnow())
    return render_template("planning/checklist.html", campaign=camp, city=place,
                           progress=progress, people=timeline.who_changed(db.session, progress), form=TickForm(formdata=None),
                           markdown=render_markdown)


@bp.post("/organise/<campaign>/<city>/checklist/<int:milestone_id>")
def tick(campaign: str, city: str, milestone_id: int):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city, approved_only=True)
    user = require_city(camp, place, ORGANISERS)
    form = TickForm()
    if not form.validate():
        return render_template("error.html", status=400,
                               message=_("Tick or untick an item from the checklist page.")), 400
    timeline.set_done(db.session, camp, place, milestone_id, user, form.done.data == "1")
    db.session.commit()
    return redirect(url_for(".checklist", campaign=camp.slug, city=place.slug)
                    + f"#m{milestone_id}")
