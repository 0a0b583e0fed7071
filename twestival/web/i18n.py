"""Languages: the browser's choice (Accept-Language), overridable by the person.

The choice is kept in the session and, for signed-in people, in User.locale, so it follows
them to another device. Money and dates are formatted in the same locale (templating.locale).
"""
from __future__ import annotations

from flask import Blueprint, Flask, g, redirect, render_template, request, session, url_for
from flask_babel import Babel, force_locale, get_locale, get_translations, gettext
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


def _translations():
    """flask_babel's get_translations(), looked up once per language a request renders in.
    A page calls gettext a hundred times or more, and each call looked up the context, the
    locale, its name and the domain again (~25 us: a fifth of rendering a city page). Kept
    while the context's locale and domain are the same objects, so force_locale and refresh
    (a mail in its reader's language) still switch at once."""
    ctx = getattr(g, "_flask_babel", None) if g else None
    kept = getattr(ctx, "twestival_translations", None)
    if (kept is not None and kept[0] is getattr(ctx, "babel_locale", None)
            and kept[1] is getattr(ctx, "babel_domain", None)):
        return kept[2]
    translations = get_translations()
    ctx = getattr(g, "_flask_babel", None) if g else None
    if ctx is not None:
        ctx.twestival_translations = (getattr(ctx, "babel_locale", None),
                                      getattr(ctx, "babel_domain", None), translations)
    return translations


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(ROOT / "translations"))
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.add_template_filter(said)

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "current_locale": str(get_locale())}


# Words templates translate from stored values (_(city.status.value), _(role.value),
# _(row.stream)); listed here so `pybabel extract` finds them. Stripe and PayPal are names.
STORED_WORDS = (_l("pending"), _l("approved"), _l("rejected"), _l("withdrawn"),
                _l("coordinator"), _l("organiser"), _l("volunteer"),
                _l("cash"), _l("bank"), _l("ticketing"), _l("api"), _l("adjustment"))
