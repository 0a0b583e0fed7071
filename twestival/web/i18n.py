"""Languages: the browser's choice (Accept-Language), overridable by the person.

The choice is kept in the session and, for signed-in people, in User.locale, so it follows
them to another device. Money and dates are formatted in the same locale (templating.locale).
"""
from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_babel import Babel, force_locale, get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import ROOT
from ..languages import LANGUAGES
from ..errors import DomainError
from ..extensions import db
from .links import local_path

bp = Blueprint("i18n", __name__)
babel = Babel()


def select_locale() -> str:
    chosen = session.get("locale")
    if chosen in LANGUAGES:
        return chosen
    if current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return request.accept_languages.best_match(list(LANGUAGES)) or "en"


@bp.get("/language")
def confirm():
    """Where the switcher of a page shared by everyone leads (it holds no CSRF token): the
    form that makes the choice, with its token, in the chosen language. A script sends it at
    once; without scripts the visitor presses its button."""
    code = request.args.get("locale", "")
    back = local_path(request.args.get("next")) or url_for("public.index")
    if code not in LANGUAGES:
        return redirect(back)
    with force_locale(code):
        return render_template("language.html", code=code, label=LANGUAGES[code], back=back)


@bp.post("/language")
def choose():
    code = request.form.get("locale", "")
    if code in LANGUAGES:
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    return redirect(local_path(request.form.get("next")) or url_for("public.index"))


def say(exc: DomainError) -> str:
    """A domain error in the reader's language."""
    return exc.translated(gettext)


def said(kept) -> str:
    """A kept phrase or refusal (an import's notes and errors) in the reader's language."""
    return kept.translated(gettext)


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(ROOT / "translations"))
    app.add_template_filter(said)

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "current_locale": str(get_locale())}


# Words templates translate from stored values (_(city.status.value), _(role.value),
# _(row.stream)); listed here so `pybabel extract` finds them. Stripe and PayPal are names.
STORED_WORDS = (_l("pending"), _l("approved"), _l("rejected"), _l("withdrawn"),
                _l("coordinator"), _l("organiser"), _l("volunteer"),
                _l("cash"), _l("bank"), _l("ticketing"), _l("api"), _l("adjustment"))
