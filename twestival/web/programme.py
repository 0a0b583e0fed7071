"""The night's programme: a city's run sheet and sponsors on its desk, the campaign's sponsors
on the coordinator desk, and the logos as the public gets them.

Organisers of the city and the campaign's coordinators edit a city's run sheet and sponsors
(volunteers only count cash); only coordinators edit the campaign's sponsors.
"""
from __future__ import annotations

from babel.dates import format_time
from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateTimeLocalField, StringField, URLField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..campaigns.models import Campaign, City
from ..campaigns.service import get_campaign
from ..errors import InvalidInput
from ..extensions import db, socketio
from ..live.programme import run_sheet_changed
from ..programme import logos, runsheet, sponsors
from .authz import require_coordinator
from .organise import EDITORS, _place
from .templating import locale

bp = Blueprint("programme", __name__)

LOGO_REFUSALS = {
    logos.TOO_BIG: _l("The logo is too large: at most %(mb)s MB.", mb=logos.MAX_BYTES // 2**20),
    logos.EMPTY: _l("Choose a logo file."),
    logos.NOT_IMAGE: _l("The logo must be a PNG, JPEG or WebP image."),
    logos.TRAILING: _l("The file holds something after the image: save it again as a plain PNG, JPEG or WebP."),
    logos.MARKUP: _l("The file holds web page code: save it again as a plain PNG, JPEG or WebP."),
    logos.DIMENSIONS: _l("The logo's size in pixels is out of bounds (%(min)s to %(max)s pixels a side).",
                         min=logos.MIN_SIDE, max=logos.MAX_SIDE),
    logos.BROKEN: _l("The image could not be read: it may be damaged."),
}
# Uploads larger than this are cut off before they are read: a 413, not a slow request.
REQUEST_MAX = logos.MAX_BYTES + 256 * 1024


def _web_link(form, field):
    try:
        sponsors.check_link(field.data)
    except InvalidInput:
        raise ValidationError(_l("The link must be a web address starting with https:// or http://.")) from None


class ItemForm(FlaskForm):
    at_local = DateTimeLocalField(_l("Time (local)"), format="%Y-%m-%dT%H:%M",
                                  validators=[DataRequired(_l("Give the item's time."))])
    title = StringField(_l("What happens"), validators=[
        DataRequired(_l("Give the item a title.")), Length(max=runsheet.TITLE_MAX)])
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=runsheet.NOTE_MAX)])

    def details(self) -> runsheet.ItemDetails:
        return runsheet.ItemDetails(self.at_local.data, self.title.data, self.note.data)


class SponsorForm(FlaskForm):
    name = StringField(_l("Sponsor's name"), validators=[
        DataRequired(_l("Give the sponsor's name.")), Length(max=sponsors.NAME_MAX)])
    link = URLField(_l("Link (optional)"), validators=[Optional(), Length(max=sponsors.LINK_MAX),
                                                      _web_link])
    logo = FileField(_l("Logo (PNG, JPEG or WebP, at most %(mb)s MB)", mb=logos.MAX_BYTES // 2**20))

    def details(self) -> sponsors.SponsorDetails:
        return sponsors.SponsorDetails(self.name.data, self.link.data)

    def cleaned_logo(self, required: bool) -> logos.Logo | None:
        """The uploaded logo checked and re-encoded; None when none was sent (and none is
        needed). A refusal is put at the field."""
        upload = self.logo.data
        data = upload.stream.read(logos.MAX_BYTES + 1) if upload else b""
        if not data and not required:
            return None
        try:
            return logos.clean(data)
        except logos.LogoRefused as refused:
            self.logo.errors = [LOGO_REFUSALS[refused.reason]]
            return None


def _item_form(item=None, **kwargs) -> ItemForm:
    if item is None:
        return ItemForm(prefix="new", **kwargs)
    return ItemForm(prefix=f"item{item.id}", obj=item, **kwargs)


def _sponsor_form(sponsor=None, **kwargs) -> SponsorForm:
    if sponsor is None:
        return SponsorForm(prefix="new", **kwargs)
    return SponsorForm(prefix=f"sponsor{sponsor.id}", obj=sponsor, **kwargs)


UPLOADS = {"programme.add_city_sponsor", "programme.edit_city_sponsor",
           "programme.add_campaign_sponsor", "programme.edit_campaign_sponsor"}


@bp.record_once
def _cut_off_large_uploads(state):
    """Before anything reads the body (the CSRF check parses the form first), so a huge upload
    is refused with 413 instead of being spooled to disk."""
    def limit():
        if request.endpoint in UPLOADS:
            request.max_content_length = REQUEST_MAX
    state.app.before_request_funcs.setdefault(None, []).insert(0, limit)


# --- a city's desk ---------------------------------------------------------------------------

def _city_page(camp: Campaign, place: City, failed: FlaskForm | None = None,
               failed_id: int | None = None, status: int = 200):
    """The run sheet and sponsors page; ``failed`` stands in for the form that was sent."""
    items = runsheet.items(db.session, place)
    owned = sponsors.owned(db.session, camp, place)
    new_item = failed if isinstance(failed, ItemForm) and failed_id is None else _item_form(
        at_local=place.starts_at_local)
    new_sponsor = failed if isinstance(failed, SponsorForm) and failed_id is None else _sponsor_form()
    item_forms = [(item, failed if isinstance(failed, ItemForm) and failed_id == item.id
                   else _item_form(item, formdata=None)) for item in items]
    sponsor_forms = [(s, failed if isinstance(failed, SponsorForm) and failed_id == s.id
                      else _sponsor_form(s, formdata=None)) for s in owned]
    return render_template("organise/programme.html", campaign=camp, city=place,
                           new_item=new_item, item_forms=item_forms, new_sponsor=new_sponsor,
                           sponsor_forms=sponsor_forms, delete_form=FlaskForm(),
                           logo_mb=logos.MAX_BYTES // 2**20), status


@bp.get("/organise/<campaign>/<city>/programme")
def city_programme(campaign: str, city: str):
    camp, place = _place(campaign, city, EDITORS)
    return _city_page(camp, place)


def _back(camp: Campaign, place: City, anchor: str):
    return redirect(url_for(".city_programme", campaign=camp.slug, city=place.slug,
                            _anchor=anchor), 303)


def _pushed(camp: Campaign, place: City):
    """After the commit: every open screen of the city gets the new run sheet."""
    run_sheet_changed(socketio, camp.slug, place.slug, runsheet.public(db.session, place))


@bp.post("/organise/<campaign>/<city>/run-sheet")
def add_item(campaign: str, city: str):
    camp, place = _place(campaign, city, EDITORS)
    form = _item_form()
    if form.validate_on_submit():
        try:
            runsheet.add(db.session, place, form.details(), by_user_id=current_user.id)
        except runsheet.Full:
            db.session.rollback()
            form.form_errors.append(_("The run sheet is full: at most %(n)s items.",
                                      n=runsheet.ITEMS_MAX))
        else:
            db.session.commit()
            _pushed(camp, place)
            flash(_("The item is on the run sheet."))
            return _back(camp, place, "run-sheet")
    return _city_page(camp, place, form, status=422)


@bp.post("/organise/<campaign>/<city>/run-sheet/<int:item_id>")
def edit_item(campaign: str, city: str, item_id: int):
    camp, place = _place(campaign, city, EDITORS)
    item = runsheet.get(db.session, place, item_id)
    form = _item_form(item)
    if not form.validate_on_submit():
        return _city_page(camp, place, form, item.id, status=422)
    runsheet.edit(db.session, place, item.id, form.details(), by_user_id=current_user.id)
    db.session.commit()
    _pushed(camp, place)
    flash(_("The item is saved."))
    return _back(camp, place, "run-sheet")


@bp.post("/organise/<campaign>/<city>/run-sheet/<int:item_id>/delete")
def delete_item(campaign: str, city: str, item_id: int):
    camp, place = _place(campaign, city, EDITORS)
    runsheet.remove(db.session, place, item_id, by_user_id=current_user.id)
    db.session.commit()
    _pushed(camp, place)
    flash(_("The item is off the run sheet."))
    return _back(camp, place, "run-sheet")


def _add_sponsor(camp: Campaign, place: City | None, render, back):
    form = _sponsor_form()
    if form.validate_on_submit():
        logo = form.cleaned_logo(required=True)
        if logo is not None:
            try:
                sponsors.add(db.session, camp, place, form.details(), logo,
                             by_user_id=current_user.id)
            except sponsors.Full:
                db.session.rollback()
                form.form_errors.append(_("At most %(n)s sponsors each.", n=sponsors.PER_OWNER_MAX))
            else:
                db.session.commit()
                flash(_("The sponsor is added."))
                return back
    return render(form, None)


def _edit_sponsor(camp: Campaign, place: City | None, sponsor_id: int, render, back):
    sponsor = sponsors.get(db.session, camp, place, sponsor_id)
    form = _sponsor_form(sponsor)
    if form.validate_on_submit():
        logo = form.cleaned_logo(required=False)
        if not form.logo.errors:
            sponsors.edit(db.session, camp, place, sponsor.id, form.details(), logo,
                          by_user_id=current_user.id)
            db.session.commit()
            flash(_("The sponsor is saved."))
            return back
    return render(form, sponsor.id)


def _delete_sponsor(camp: Campaign, place: City | None, sponsor_id: int, back):
    sponsors.remove(db.session, camp, place, sponsor_id, by_user_id=current_user.id)
    db.session.commit()
    flash(_("The sponsor is removed."))
    return back


@bp.post("/organise/<campaign>/<city>/sponsors")
def add_city_sponsor(campaign: str, city: str):
    camp, place = _place(campaign, city, EDITORS)
    return _add_sponsor(camp, place, lambda form, sid: _city_page(camp, place, form, sid, 422),
                        _back(camp, place, "sponsors"))


@bp.post("/organise/<campaign>/<city>/sponsors/<int:sponsor_id>")
def edit_city_sponsor(campaign: str, city: str, sponsor_id: int):
    camp, place = _place(campaign, city, EDITORS)
    return _edit_sponsor(camp, place, sponsor_id,
                         lambda form, sid: _city_page(camp, place, form, sid, 422),
                         _back(camp, place, "sponsors"))


@bp.post("/organise/<campaign>/<city>/sponsors/<int:sponsor_id>/delete")
def delete_city_sponsor(campaign: str, city: str, sponsor_id: int):
    camp, place = _place(campaign, city, EDITORS)
    return _delete_sponsor(camp, place, sponsor_id, _back(camp, place, "sponsors"))


# --- the campaign's sponsors (coordinators) ----------------------------------------------------

def _campaign_page(camp: Campaign, failed: SponsorForm | None = None,
                   failed_id: int | None = None, status: int = 200):
    owned = sponsors.owned(db.session, camp, None)
    new_sponsor = failed if failed is not None and failed_id is None else _sponsor_form()
    sponsor_forms = [(s, failed if failed is not None and failed_id == s.id
                      else _sponsor_form(s, formdata=None)) for s in owned]
    return render_template("coordinate/sponsors.html", campaign=camp, new_sponsor=new_sponsor,
                           sponsor_forms=sponsor_forms, delete_form=FlaskForm(),
                           logo_mb=logos.MAX_BYTES // 2**20), status


def _coordinator_campaign(campaign: str) -> Campaign:
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    return camp


def _campaign_back(camp: Campaign):
    return redirect(url_for(".campaign_sponsors", campaign=camp.slug, _anchor="sponsors"), 303)


@bp.get("/coordinate/<campaign>/sponsors")
def campaign_sponsors(campaign: str):
    return _campaign_page(_coordinator_campaign(campaign))


@bp.post("/coordinate/<campaign>/sponsors")
def add_campaign_sponsor(campaign: str):
    camp = _coordinator_campaign(campaign)
    return _add_sponsor(camp, None, lambda form, sid: _campaign_page(camp, form, sid, 422),
                        _campaign_back(camp))


@bp.post("/coordinate/<campaign>/sponsors/<int:sponsor_id>")
def edit_campaign_sponsor(campaign: str, sponsor_id: int):
    camp = _coordinator_campaign(campaign)
    return _edit_sponsor(camp, None, sponsor_id,
                         lambda form, sid: _campaign_page(camp, form, sid, 422),
                         _campaign_back(camp))


@bp.post("/coordinate/<campaign>/sponsors/<int:sponsor_id>/delete")
def delete_campaign_sponsor(campaign: str, sponsor_id: int):
    camp = _coordinator_campaign(campaign)
    return _delete_sponsor(camp, None, sponsor_id, _campaign_back(camp))


# --- the logos, as served ------------------------------------------------------------------------

@bp.get("/c/<campaign>/sponsors/<int:sponsor_id>/<digest>.<ext>")
def logo(campaign: str, sponsor_id: int, digest: str, ext: str):
    """Our re-encoded copy, named by its digest: cacheable for good, since a new logo gets a
    new URL."""
    camp = get_campaign(db.session, campaign)
    found = sponsors.logo(db.session, camp, sponsor_id, digest)
    if ext != logos.extension(found.image_type):
        return redirect(logo_url(camp, found), 301)
    response = Response(found.image, mimetype=found.image_type)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    response.set_etag(found.image_digest)
    return response.make_conditional(request)


@bp.app_template_global("sponsor_logo_url")
def logo_url(camp: Campaign, sponsor) -> str:
    return url_for("programme.logo", campaign=camp.slug, sponsor_id=sponsor.id,
                   digest=sponsor.image_digest, ext=logos.extension(sponsor.image_type))


@bp.app_template_global()
def night_sponsors(campaign: Campaign, city: City | None = None) -> list[dict]:
    """The sponsors a public page shows, read where the partial showing them is included, so
    the pages that include it need no change of their own."""
    return [{"name": s.name, "link": s.link, "src": logo_url(campaign, s), "width": s.width,
             "height": s.height} for s in sponsors.shown(db.session, campaign, city)]


@bp.app_template_global()
def night_run_sheet(city: City | None) -> list[dict]:
    """A city's run sheet as ITEMs, each with its time as the city's clock shows it."""
    if city is None:
        return []
    return [{**runsheet.to_json(city, item),
             "local": format_time(item.at_local, "short", locale=locale())}
            for item in runsheet.items(db.session, city)]
