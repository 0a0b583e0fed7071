"""Forgotten passwords: a signed, expiring set-password link by mail."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Length

from ..accounts.service import find_user
from ..extensions import db, limiter
from . import mails

bp = Blueprint("account", __name__)


class ForgotForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit("5 per minute; 20 per hour", methods=["POST"])
def forgot_password():
    form = ForgotForm()
    if form.validate_on_submit():
        user = find_user(db.session, form.email.data)
        if user is not None and user.active:
            mails.password_reset(user)
            db.session.commit()
        # The same answer either way: the form does not tell who has an account.
        return render_template("auth/forgot_sent.html")
    return render_template("auth/forgot.html", form=form), 400 if form.errors else 200
