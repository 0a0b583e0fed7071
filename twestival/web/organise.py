"""A city's own desk (/organise): its page, the night's cash, links to imports and checklist.

Organisers of the city and the campaign's coordinators may do everything here; volunteers only
record cash. Every view authorises first, then calls one domain function.
"""
from __future__ import annotations

from flask import (Blueprint, current_app, flash, jsonify, redirect, render_template,
                   request, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..accounts.models import Role
from ..announcements.service import unread_count
from ..audit import service as audit
from ..campaigns.models import Campaign, City
from ..campaigns.pages import update_page
from ..campaigns.service import get_campaign, get_city
from ..errors import DomainError
from ..extensions import db, socketio
from ..live import gifts as gift_wall
from ..live.publisher import hidden as push_hidden
from ..ledger.statement import statement
from ..money import exponent
from ..planning.timeline import checklist
from ..streams import cash
from ..streams.inbox.receive import receive
from . import pagecache
from .authz import require_city, roles
from .forms import PageFields, currency_choices
from .i18n import say
from .organise_desk import night_panel

bp = Blueprint("organise", __name__)
EDITORS = (Role.organiser, Role.coordinator)
CASH_TAKERS = (Role.organiser, Role.volunteer, Role.coordinator)
MAX_CASH_BODY = 4096


class PageForm(PageFields, FlaskForm):
    pass


class GiftForm(FlaskForm):
    """Hide a gift's name and message, or show one the word list held back."""
    action = StringField(validators=[DataRequired()])


class ReverseForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


def _place(campaign: str, city: str, allowed) -> tuple[Campaign, City]:
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    require_city(camp, place, allowed)
    return camp, place


@bp.get("/organise")
@login_required
def home():
    """Every desk the signed-in person has, across campaigns."""
    desks = []
    for m in sorted(current_user.memberships, key=lambda m: (m.campaign_id, m.city_id or 0)):
        camp = db.session.get(Campaign, m.campaign_id)
        if m.role is Role.coordinator:
            desks.append((m.role, camp, None, url_for("coordinate.dashboard", campaign=camp.slug)))
        else:
            place = db.session.get(City, m.city_id)
            endpoint = "organise.cash_page" if m.role is Role.volunteer else "organise.dashboard"
            desks.append((m.role, camp, place, url_for(endpoint, campaign=camp.slug,
                                                       city=place.slug)))
    return render_template("organise/home.html", desks=desks)


def _dashboard(camp: Campaign, place: City, form: PageForm, status: int = 200):
    can_edit = bool(roles(camp, place) & set(EDITORS))
    planning = None
    if can_edit:   # volunteers see the cash desk only
        planning = {"unread": unread_count(db.session, current_user, camp, place),
                    "checklist": checklist(db.session, camp, place),
                    "money": statement(db.session, camp, place)}
    return render_template(
        "organise/dashboard.html", campaign=camp, city=place, form=form, can_edit=can_edit,
        planning=planning, lines=cash.city_lines(db.session, place), gift_form=GiftForm(),
        night=night_panel(camp, place, can_edit)), status


@bp.get("/organise/<campaign>/<city>")
def dashboard(campaign: str, city: str):
    camp, place = _place(campaign, city, CASH_TAKERS)
    return _dashboard(camp, place, PageForm(obj=place))


@bp.post("/organise/<campaign>/<city>/page")
def edit_page(campaign: str, city: str):
    camp, place = _place(campaign, city, EDITORS)
    form = PageForm()
    if form.validate_on_submit():
        try:
            update_page(db.session, place, form.page_details())
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(say(exc))
        else:
            db.session.commit()
            pagecache.changed(current_app, camp.slug)
            flash(_("The page is saved."))
            return redirect(url_for(".dashboard", campaign=camp.slug, city=place.slug))
    return _dashboard(camp, place, form, 422)


@bp.get("/organise/<campaign>/<city>/cash")
def cash_page(campaign: str, city: str):
    camp, place = _place(campaign, city, CASH_TAKERS)
    return render_template("organise/cash.html", campaign=camp, city=place,
                           currencies=currency_choices(), exponent=exponent(place.currency),
                           lines=cash.city_lines(db.session, place)[:20])


def _json_error(status: int, message: str):
    return jsonify(error=message), status


@bp.post("/organise/<campaign>/<city>/cash")
def record_cash(campaign: str, city: str):
    """JSON: one counted amount, sent at once or later from the phone's offline queue."""
    camp, place = _place(campaign, city, CASH_TAKERS)
    if request.mimetype != "application/json":
        return _json_error(415, _("send the entry as Content-Type: application/json"))
    body = request.get_data(cache=False)
    if len(body) > MAX_CASH_BODY:
        return _json_error(413, _("the entry is too large"))
    try:
        result = receive(db.session, cash.STREAM, body,
                         lambda payload: cash.process_count(db.session, place, payload,
                                                            by_user_id=current_user.id),
                         headers=request.headers, content_type=request.content_type,
                         campaign_id=camp.id,
                         meta={"city_id": place.id, "user_id": current_user.id})
    except DomainError as exc:
        return _json_error(exc.status, say(exc))
    return jsonify(cash.to_json(result.entry, result.created)), 201 if result.created else 200


@bp.post("/organise/<campaign>/<city>/cash/<int:entry_id>/reverse")
def reverse_cash(campaign: str, city: str, entry_id: int):
    camp, place = _place(campaign, city, EDITORS)
    form = ReverseForm()
    if not form.validate_on_submit():
        flash(_("Say why the entry is reversed."))
        return redirect(url_for(".dashboard", campaign=camp.slug, city=place.slug), 303)
    cash.reverse_count(db.session, place, entry_id, reason=form.reason.data,
                       by_user_id=current_user.id)
    db.session.commit()
    flash(_("The entry is reversed."))
    return redirect(url_for(".dashboard", campaign=camp.slug, city=place.slug), 303)


@bp.post("/organise/<campaign>/<city>/gifts/<int:gift_id>")
def moderate_gift(campaign: str, city: str, gift_id: int):
    """Hide a gift's name and message from every screen (the money stays), or show a message
    the word list held back."""
    camp, place = _place(campaign, city, EDITORS)
    form = GiftForm()
    back = redirect(url_for(".dashboard", campaign=camp.slug, city=place.slug, _anchor="thanks"),
                    303)
    if not form.validate_on_submit():
        flash(_("The form has expired: please try again."))
        return back
    gift_wall.decide(db.session, camp, gift_id, form.action.data, city=place,
                     by_user_id=current_user.id)
    audit.record(db.session, current_user.id,
                 "gift.shown" if form.action.data == "show" else "gift.hidden",
                 subject=f"gift #{gift_id}", campaign_id=camp.id, city_id=place.id,
                 details={"action": form.action.data})
    db.session.commit()
    pagecache.changed(current_app, camp.slug)
    if form.action.data == "hide":
        push_hidden(socketio, camp.slug, place.slug, gift_id)
        flash(_("The gift's name and message are hidden everywhere."))
    elif form.action.data == "hide_name":
        push_hidden(socketio, camp.slug, place.slug, gift_id)
        flash(_("The donor's name is hidden everywhere."))
    elif form.action.data == "hide_message":
        push_hidden(socketio, camp.slug, place.slug, gift_id)
        flash(_("The gift's message is hidden everywhere."))
    else:
        flash(_("The gift's name and message are shown."))
    return back
