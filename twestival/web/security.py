"""Headers every response needs, whatever view made it.

- Behind TLS (directly, or through a trusted proxy's X-Forwarded-Proto: TWESTIVAL_PROXIES) the
  session cookie is Secure and pages carry HSTS. Plain-HTTP development keeps working.
- A Content-Security-Policy: scripts and styles from this site only, framing by this site only.
  A view changes single directives with ``csp(...)`` (an embeddable widget: any site may frame
  it) without restating the rest.
- Pages of signed-in people, and the sign-in pages themselves, are never stored by browsers or
  shared caches (``Cache-Control: no-store``): a back button on a shared venue laptop must not
  show the cash desk of whoever signed out.
"""
from __future__ import annotations

import functools
import re

from flask import Flask, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

HSTS = "max-age=31536000"   # a year; no includeSubDomains: other hosts of the domain are not ours

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    # Progress bars are drawn with style="width: N%"; everything else comes from app.css.
    "style-src": "'self' 'unsafe-inline'",
    # Organisers' Markdown may show pictures from anywhere on the web (twestival.text).
    "img-src": "'self' data: https:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'self'",
    # No form-action: the donate form answers with a redirect to the payment provider's
    # checkout (Stripe, PayPal, a custom Checkout domain), which form-action would block.
}

HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")

PRIVATE_PREFIXES = ("/organise", "/coordinate", "/login", "/logout", "/forgot-password",
                    "/set-password")


def csp(**directives: str):
    """Decorator: this view's responses use these directives (``frame_ancestors="*"``)."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            g.setdefault("csp", {}).update(
                {name.replace("_", "-"): value for name, value in directives.items()})
            return view(*args, **kwargs)
        return wrapped
    return decorate


@functools.lru_cache(maxsize=64)
def _policy(secure: bool, host: str, overrides: tuple) -> str:
    policy = dict(CSP, **dict(overrides))
    if policy["connect-src"] == "'self'" and HOST.fullmatch(host):
        # Older Safari does not count the site's own ws(s):// as 'self'; Socket.IO needs it.
        # (The Host header is the client's word: anything but a plain host[:port] stays out.)
        policy["connect-src"] = f"'self' {'wss' if secure else 'ws'}://{host}"
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def baseline_headers(secure: bool, host: str, overrides: tuple = ()) -> list[tuple[str, str]]:
    """The headers every response carries (``overrides``: a view's CSP directives)."""
    headers = [("X-Content-Type-Options", "nosniff"),
               ("Referrer-Policy", "strict-origin-when-cross-origin"),
               ("Content-Security-Policy", _policy(secure, host, overrides))]
    if dict(overrides).get("frame-ancestors", "'self'") == "'self'":
        headers.append(("X-Frame-Options", "SAMEORIGIN"))
    if secure:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app) or (has_request_context() and request.is_secure))

    def save_session(self, app: Flask, session, response) -> None:
        # No cookie came and none is made: the answer is the same for every visitor without a
        # session, so it gets no "Vary: Cookie" and shared caches may keep it (web/pagecache.py).
        # nginx passes requests carrying the cookie by its cache (docs/deploy/nginx.conf).
        if (not session and not session.modified
                and self.get_cookie_name(app) not in request.cookies):
            return
        super().save_session(app, session, response)


def _signed_in(app: Flask) -> bool:
    # Looking into the session only when a cookie came keeps "Vary: Cookie" off public answers.
    return (request.endpoint != "static" and app.config["SESSION_COOKIE_NAME"] in request.cookies
            and "_user_id" in session)


def init_app(app: Flask) -> None:
    hops = int(app.config.get("PROXIES") or 0)
    if hops:
        # Client address, scheme and host as the proxy saw them: rate limits, logs, Secure
        # cookies and HSTS depend on them. Only as many hops as are ours are believed.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.session_interface = SessionCookies()

    @app.after_request
    def _security_headers(response):
        headers = response.headers
        for name, value in baseline_headers(request.is_secure, request.host,
                                            tuple(sorted(g.get("csp", {}).items()))):
            headers.setdefault(name, value)
        if request.path.startswith(PRIVATE_PREFIXES) or _signed_in(app):
            headers["Cache-Control"] = "no-store"
        return response
