"""Signing in and out, and setting a password from a one-time link."""
from __future__ import annotations

from flask import (Blueprint, Flask, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from ..accounts import signin
from ..accounts.models import User
from ..accounts.service import MIN_PASSWORD, end_sessions, reset_password, session_is_current
from ..storage.database import read_only
from ..errors import InvalidInput
from ..extensions import db, limiter, login_manager
from .links import external_url, local_path
from .i18n import say

bp = Blueprint("auth", __name__)
PASSWORD_LINK_MAX_AGE = 7 * 24 * 3600


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)])
    confirm = PasswordField(_l("Repeat it"), validators=[EqualTo("password", _l("The two passwords differ."))])


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="set-password")


def password_token(user: User) -> str:
    # The current hash is part of the token, so a link stops working once it has been used.
    return _serializer().dumps([user.id, (user.password_hash or "")[-12:]])


def password_link(user: User) -> str:
    return external_url("auth.set_password_view", token=password_token(user))


def user_from_token(token: str) -> User | None:
    try:
        user_id, fingerprint = _serializer().loads(token, max_age=PASSWORD_LINK_MAX_AGE)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or (user.password_hash or "")[-12:] != fingerprint:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        # The password is checked in a read-only transaction, the outcome written after it.
        with read_only():
            attempt = signin.check(db.session, form.email.data, form.password.data)
            db.session.rollback()
        if attempt.wait is not None:
            form.password.errors.append(_(
                "Too many wrong passwords for this account. Try again in %(wait)s, or set "
                "a new password with “Forgot your password?”.",
                wait=format_timedelta(attempt.wait, threshold=1.0, add_direction=False)))
            return render_template("auth/login.html", form=form), 429
        signin.record(db.session, attempt)
        if attempt.user is not None:
            login_user(attempt.user)
            db.session.commit()
            return redirect(local_path(request.args.get("next")) or url_for("organise.home"))
        db.session.commit()
        form.password.errors.append(_("Email or password is wrong."))
    return render_template("auth/login.html", form=form), 400 if request.method == "POST" else 200


@bp.post("/logout")
@login_required
def logout():
    # Ends this person's sessions everywhere: a copy of the cookie must not outlive sign-out.
    end_sessions(current_user)
    db.session.commit()
    logout_user()
    return redirect(url_for("public.index"))


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password_view(token: str):
    user = user_from_token(token)
    if user is None:
        return render_template("error.html", status=400,
                               message=_("This link has expired or was already used.")), 400
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            reset_password(db.session, user, form.password.data)
        except InvalidInput as exc:
            form.password.errors.append(say(exc))
        else:
            db.session.commit()
            login_user(user)
            flash(_("Your password is set."))
            return redirect(url_for("organise.home"))
    return render_template("auth/set_password.html", form=form, user=user), \
        400 if form.errors else 200


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def _load(session_id: str):
        # "<user id>:<epoch>"; a bare id is a session from before epochs, i.e. epoch 0.
        user_id, _sep, epoch = session_id.partition(":")
        if not user_id.isdigit() or not (epoch or "0").isdigit():
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and session_is_current(user, int(epoch or 0)) else None

    @app.context_processor
    def _user():
        return {"current_user": current_user}
