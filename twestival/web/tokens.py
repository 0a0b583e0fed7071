"""The coordinators' API tokens (/coordinate/<campaign>/tokens): list, label, revoke. A
token's secret is shown once, by `twestival token create`; here only its stored prefix."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..accounts import tokens as api_tokens
from ..extensions import db
from .coordinate import _campaign

bp = Blueprint("tokens", __name__, url_prefix="/coordinate")


@bp.get("/<campaign>/tokens")
def tokens(campaign: str):
    camp = _campaign(campaign)
    return render_template("coordinate/tokens.html", campaign=camp,
                           tokens=api_tokens.tokens(db.session, camp),
                           cities={c.id: c.name for c in camp.cities})


@bp.post("/<campaign>/tokens/<int:token_id>/label")
def label(campaign: str, token_id: int):
    camp = _campaign(campaign)
    token = api_tokens.get_token(db.session, camp, token_id)
    api_tokens.label_token(db.session, token, request.form.get("label", ""))
    db.session.commit()
    flash(_("The token %(prefix)s… is labelled.", prefix=token.prefix))
    return redirect(url_for(".tokens", campaign=camp.slug), 303)


@bp.post("/<campaign>/tokens/<int:token_id>/revoke")
def revoke(campaign: str, token_id: int):
    camp = _campaign(campaign)
    token = api_tokens.get_token(db.session, camp, token_id)
    if api_tokens.revoke_token(db.session, token, by=current_user.email,
                               actor_id=current_user.id, reason=request.form.get("reason")):
        flash(_("The token %(prefix)s… is revoked: the API refuses it from now on.",
                prefix=token.prefix))
    else:
        flash(_("The token %(prefix)s… was revoked already.", prefix=token.prefix))
    db.session.commit()
    return redirect(url_for(".tokens", campaign=camp.slug), 303)
