"""The money desk: file imports for organisers and coordinators, the unassigned queue, CSV
mappings and the reconciliation statement. Views parse, authorise and call one domain
function; the import itself archives (one commit) and records (a second commit)."""
from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import InputRequired

from ..campaigns.service import approved_cities, get_campaign, get_city
from ..errors import DomainError
from ..extensions import db
from ..ledger import queue
from ..ledger.statement import by_stream, csv_safe, rate_policy, statement
from ..money import Money, format_money
from ..streams.files import mappings as file_mappings, run
from ..streams.bank import reversals as bank_reversals
from .authz import require_city, require_coordinator
from .forms import options
from .i18n import say
from .templating import locale

bp = Blueprint("money_desk", __name__)


@bp.before_request
def _limit_uploads():
    limit = current_app.config["IMPORT_MAX_UPLOAD"]
    if request.method == "POST" and (request.content_length or 0) > limit:
        abort(413, _("files up to %(size)s MB can be imported here; use `twestival import` "
                     "for larger ones", size=limit // (1024 * 1024)))

FORMAT_LABELS = {"eventbrite": _l("Eventbrite order/attendee export (CSV)"),
                 "csv": _l("CSV through a saved column mapping"),
                 "camt053": _l("Bank statement: CAMT.053 / CAMT.054 (XML)"),
                 "mt940": _l("Bank statement: MT940"), "ofx": _l("Bank statement: OFX")}


class ImportForm(FlaskForm):
    file = FileField(_l("File"), validators=[FileRequired(_l("choose a file to import"))])
    format = SelectField(_l("Format"))
    # Checked by the domain (an unknown mapping or city is a clear refusal, not a form error).
    mapping = SelectField(_l("Column mapping (CSV only)"), validate_choice=False)
    city = SelectField(_l("City (ticket sales; for bank credits that match no reference)"),
                       validate_choice=False)
    # Checked by the domain: an ISO code, only for MT940/OFX files that name no currency.
    currency = StringField(_l("Currency (only for an MT940/OFX statement that names none)"))


class AssignForm(FlaskForm):
    city = SelectField(_l("City"))


class LinkReversalForm(FlaskForm):
    entry = IntegerField(_l("Credit"), validators=[InputRequired()])


class MappingForm(FlaskForm):
    name = StringField(_l("Name"))
    kind = SelectField(_l("Kind"), choices=options([("ticketing", _l("ticket sales / donations")),
                                                ("bank", _l("bank statement"))]))
    date_column = StringField(_l("Date column"))
    amount_column = StringField(_l("Amount column"))
    currency_column = StringField(_l("Currency column"))
    default_currency = StringField(_l("Default currency"))
    reference_column = StringField(_l("Reference column"))
    donor_column = StringField(_l("Payer name column"))
    external_id_column = StringField(_l("Own id column"))
    fee_column = StringField(_l("Fee column"))
    date_format = StringField(_l("Date format"), default="%Y-%m-%d")
    decimal_separator = SelectField(_l("Decimal separator"), choices=options([(".", "."), (",", ",")]))
    delimiter = SelectField(_l("Delimiter"), choices=options([(",", ","), (";", ";"), ("\t", _l("tab")),
                                                          ("|", "|")]))


def _import_form(camp, formats, city_choices):
    form = ImportForm()
    form.format.choices = options((f, FORMAT_LABELS[f]) for f in formats)
    form.mapping.choices = options([("", "—")] + [(m.name, m.name) for m in
                                                  file_mappings.list_mappings(db.session, camp)])
    form.city.choices = options(city_choices)
    return form


def _run_import(camp, form, place):
    upload = form.file.data
    try:
        report = run.import_file(
            db.session, camp, upload.stream, form.format.data, city=place,
            mapping_name=form.mapping.data or None, filename=upload.filename,
            created_by_id=current_user.id, currency=form.currency.data or None)
    except DomainError as exc:
        db.session.rollback()
        return None, exc
    return report, None


@bp.route("/organise/<campaign>/<city>/imports", methods=["GET", "POST"])
def city_imports(campaign: str, city: str):
    camp = get_campaign(db.session, campaign)
    place = get_city(db.session, camp, city)
    require_city(camp, place)
    form = _import_form(camp, ("eventbrite", "csv"), [(place.slug, place.name)])
    report = error = refusal = None
    if form.validate_on_submit():
        report, refusal = _run_import(camp, form, place)
    elif request.method == "POST":
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    status = 422 if error or refusal else 200
    return render_template("money_desk/imports.html", camp=camp, place=place, form=form,
                           report=report, error=error, refusal=refusal), status


@bp.route("/coordinate/<campaign>/imports", methods=["GET", "POST"])
def campaign_imports(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    cities = [("", f'— {_("matched by bank reference / unassigned")} —')] + [
        (c.slug, c.name) for c in approved_cities(db.session, camp)]
    form = _import_form(camp, run.FORMATS, cities)
    report = error = refusal = None
    if form.validate_on_submit():
        place = get_city(db.session, camp, form.city.data) if form.city.data else None
        report, refusal = _run_import(camp, form, place)
    elif request.method == "POST":
        error = "; ".join(e for errors in form.errors.values() for e in errors)
    status = 422 if error or refusal else 200
    return render_template("money_desk/imports.html", camp=camp, place=None, form=form,
                           report=report, error=error, refusal=refusal), status


@bp.get("/coordinate/<campaign>/unassigned")
def unassigned(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    form = AssignForm()
    form.city.choices = options((c.slug, c.name) for c in approved_cities(db.session, camp))
    return render_template("money_desk/unassigned.html", camp=camp, form=form,
                           entries=queue.waiting(db.session, camp.id),
                           review=bank_reversals.waiting(db.session, camp.id))


@bp.post("/coordinate/<campaign>/unassigned/<int:entry_id>")
def assign_entry(campaign: str, entry_id: int):
    camp = get_campaign(db.session, campaign)
    user = require_coordinator(camp)
    form = AssignForm()
    form.city.choices = options((c.slug, c.name) for c in approved_cities(db.session, camp))
    if not form.validate_on_submit():
        abort(400, _("choose one of the campaign's cities"))
    place = get_city(db.session, camp, form.city.data, approved_only=True)
    moved = queue.place(db.session, camp.id, entry_id, place.id, by_user_id=user.id,
                        reason=f"assigned to {place.slug} by {user.email}").entry
    db.session.commit()
    flash(_("%(amount)s assigned to %(city)s.", amount=format_money(
        Money(moved.amount_minor, moved.currency), locale()), city=place.name))
    return redirect(url_for(".unassigned", campaign=camp.slug))


@bp.post("/coordinate/<campaign>/review/<int:row_id>")
def link_reversal(campaign: str, row_id: int):
    camp = get_campaign(db.session, campaign)
    user = require_coordinator(camp)
    form = LinkReversalForm()
    if not form.validate_on_submit():
        abort(400, _("choose the credit this reversal undoes"))
    undone = bank_reversals.link(db.session, camp.id, row_id, form.entry.data,
                                 by_user_id=user.id).entry
    db.session.commit()
    flash(_("Reversal of %(amount)s linked to its credit.", amount=format_money(
        -Money(undone.amount_minor, undone.currency), locale())))
    return redirect(url_for(".unassigned", campaign=camp.slug))


@bp.route("/coordinate/<campaign>/mappings", methods=["GET", "POST"])
def mappings(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    form = MappingForm()
    error = None
    if form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in file_mappings.MAPPING_FIELDS}
        try:
            mapping = file_mappings.save_mapping(db.session, camp, form.name.data, **fields)
        except DomainError as exc:
            db.session.rollback()
            error = say(exc)
        else:
            db.session.commit()
            flash(_("Mapping %(name)s saved.", name=mapping.name))
            return redirect(url_for(".mappings", campaign=camp.slug))
    return render_template("money_desk/mappings.html", camp=camp, form=form, error=error,
                           mappings=file_mappings.list_mappings(db.session, camp)), \
        422 if error else 200


@bp.get("/coordinate/<campaign>/statement")
def statement_page(campaign: str):
    camp = get_campaign(db.session, campaign)
    require_coordinator(camp)
    rows = statement(db.session, camp)
    if request.args.get("format") == "csv":
        return _statement_csv(camp, rows, rate_policy(camp))
    return render_template("money_desk/statement.html", camp=camp, rows=rows,
                           streams=by_stream(rows), rate_policy=rate_policy(camp))


def _statement_csv(camp, rows, policy: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["city", "stream", "currency", "gross", "refunds", "chargebacks",
                     "reversals_adjustments", "fees", "net", "net_after_fees", "net_reporting",
                     "reporting_currency", "entries", "fees_converted", "rates_used",
                     "rate_policy", "fees_covered_by_donors", "test_mode_entries"])
    for row in rows:
        def major(minor, currency=row.currency):
            return Money(minor, currency).major_str()
        writer.writerow([csv_safe(v) for v in (
            row.city, row.stream, row.currency, major(row.gross), major(row.refunds),
            major(row.chargebacks), major(row.other), major(row.fees), major(row.net),
            major(row.net_after_fees), major(row.reporting_net, row.reporting_currency), row.reporting_currency,
            row.entries, "; ".join(str(fee) for fee in row.converted_fees),
            "; ".join(str(rate) for rate in row.rates), policy, major(row.fees_covered),
            row.test_mode)])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{camp.slug}-statement.csv"',
        "Cache-Control": "no-store"})
