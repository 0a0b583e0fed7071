"""Public pages and figures: the same answer for everyone, rendered once per change.

When the MC says "look at the board", thousands of phones ask for the same few pages at once.
Each answer is kept per (page, its arguments, language, host, the campaign's live ``seq``):
``seq`` rises with every board update (live/board.py), so a new gift makes a new page and
nothing else does. Every answer carries a strong ``ETag`` (a digest of the body, so 304s are
exact), ``Cache-Control: public`` with a short ``max-age`` and ``stale-while-revalidate``, so
browsers and a shared cache in front (nginx micro-caching, docs/deploy/nginx.conf) answer most
loads without us.

Only for visitors without a session: the page then holds nothing of theirs (no CSRF token:
the donate form, with its token, is on the donate page, which starts the session). A visitor
who has a session (signed in, chose a language, started to give) gets the page rendered for
them and marked private; signed-in pages become ``no-store`` (web/security.py).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import threading
import time
from collections import OrderedDict

from flask import Flask, current_app, g, make_response, request
from flask_login import current_user
from sqlalchemy import select

from ..campaigns.models import Campaign
from ..extensions import db
from ..live.models import LiveSequence
from .templating import locale

EXTENSION = "twestival.pages"
MAX_AGE = 1           # seconds a browser or shared cache may reuse a page without asking
STALE = 1             # ... and may show it while it fetches the next (stale-while-revalidate;
                      # nginx bounds "proxy_cache_use_stale updating" by it): 2 s at most in all
SEQ_SECONDS = 0.25    # how long a process trusts a seq it read; the publisher's own are exact
RENDER_SECONDS = 5.0  # longest a page lives for one seq: match banners end, cities go live
KEEP = 1024           # answers kept per process (pages x languages x hosts)


@dataclasses.dataclass(frozen=True)
class Answer:
    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...]
    made: float


class Pages:
    """One process's answers and the seqs they were made for."""

    def __init__(self):
        self._answers: OrderedDict[tuple, Answer] = OrderedDict()
        self._seqs: dict[str, tuple[int | None, float]] = {}
        self._generations: dict[str, int] = {}
        self._making: dict[tuple, threading.Event] = {}
        self._latest: dict[tuple, tuple[Answer, int]] = {}   # per page, whatever its seq
        self._shared: dict[tuple, tuple[tuple[int, int], float, object]] = {}
        self._lock = threading.Lock()

    def seq(self, slug: str) -> int | None:
        """The campaign's live seq, or None when there is no such campaign."""
        now = time.monotonic()
        known = self._seqs.get(slug)
        if known is not None and now - known[1] < SEQ_SECONDS:
            return known[0]
        row = db.session.execute(
            select(Campaign.id, LiveSequence.seq).outerjoin(
                LiveSequence, LiveSequence.campaign_id == Campaign.id)
            .where(Campaign.slug == slug)).first()
        seq = None if row is None else row[1] or 0
        self._seqs[slug] = (seq, now)
        return seq

    def seen(self, slug: str, seq: int) -> None:
        """The publisher just committed ``seq``: pages here show it from now on."""
        with self._lock:
            known = self._seqs.get(slug)
            if known is None or known[0] is None or known[0] < seq:
                self._seqs[slug] = (seq, time.monotonic())

    def changed(self, slug: str) -> None:
        """Something shown changed without a new seq (a gift hidden by an organiser)."""
        with self._lock:
            self._generations[slug] = self._generations.get(slug, 0) + 1

    def generation(self, slug: str | None) -> int:
        return self._generations.get(slug, 0)

    def get(self, key: tuple) -> Answer | None:
        answer = self._answers.get(key)
        if answer is None or time.monotonic() - answer.made > RENDER_SECONDS:
            return None
        return answer

    def render(self, key: tuple, make) -> tuple[Answer, bool]:
        """The answer for ``key``, made once however many ask at the same moment (after each
        update the crowd asks together). While it is being made, the others get the page's
        previous answer, one update older (False: not current), or wait for it if there is
        none."""
        page = key[:-2]
        with self._lock:
            busy = self._making.get(key)
            if busy is None:
                self._making[key] = threading.Event()
        if busy is not None:
            previous = self._latest.get(page)
            if (previous is not None and previous[1] == key[-1]   # nothing hidden since
                    and time.monotonic() - previous[0].made <= RENDER_SECONDS):
                return previous[0], False
            busy.wait(RENDER_SECONDS)
            return self.get(key) or make(), True
        try:
            answer = make()
            if isinstance(answer, Answer):
                self.put(key, answer)
                if len(self._latest) >= KEEP:
                    self._latest.clear()
                self._latest[page] = (answer, key[-1])
            return answer, True
        finally:
            with self._lock:
                self._making.pop(key).set()

    def shared(self, key: tuple, slug: str, seq: int, make):
        """What several pages show alike at one seq of campaign ``slug`` (the board's rows, a
        city's gifts), read once however many pages are rendered for that seq."""
        now = time.monotonic()
        version = (seq, self.generation(slug))
        kept = self._shared.get(key)
        if kept is not None and kept[0] == version and now - kept[1] <= RENDER_SECONDS:
            return kept[2]
        value = make()
        if len(self._shared) >= KEEP:
            self._shared.clear()
        self._shared[key] = (version, now, value)
        return value

    def put(self, key: tuple, answer: Answer) -> None:
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > KEEP:
                self._answers.popitem(last=False)


# On the WSGI environ: a list the view appends to when its answer came from the cache. A list,
# not the value itself, because middleware below the fast path (Flask-SocketIO's) hands Flask
# a copy of the environ, and only a shared object carries the mark back up.
MARK = "twestival.page"

# Headers of a view's answer that belong to this request, not to the page.
PER_REQUEST = {"set-cookie", "content-length", "date", "etag", "vary"}

# How long nginx's micro-cache may keep the answer (docs/deploy/nginx.conf). nginx counts in
# whole seconds: "1 s" (max-age=1) keeps a page until the second after next, up to 2 s, and a
# viewer could see a total more than 2 s old. "@<this second>" keeps it to the end of the
# current second: at most 1 s, the same one load a second per page. nginx does not pass the
# header on; browsers go by Cache-Control.
SHARED_UNTIL = "X-Accel-Expires"


def shared_until() -> str:
    return f"@{int(time.time())}"


def _made(rendered):
    made = make_response(rendered)
    if made.status_code != 200 or made.is_streamed:
        return made
    body = made.get_data()
    return Answer(body, hashlib.sha256(body).hexdigest()[:32],
                  tuple((k, v) for k, v in made.headers.items() if k.lower() not in PER_REQUEST),
                  time.monotonic())


def personal() -> bool:
    """The visitor has a session: the page may differ for them (name, chosen language)."""
    return current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def public(localised: bool = True):
    """Decorator for a public GET view whose answer depends only on its URL, the campaign's
    state (``seq``) and, when ``localised``, the visitor's language."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(**kwargs):
            if personal():
                response = make_response(view(**kwargs))
                if response.status_code == 200:
                    response.headers.setdefault("Cache-Control", "private, no-cache")
                return response
            g.public_page = True
            pages: Pages = current_app.extensions[EXTENSION]
            slug = kwargs.get("campaign")
            seq = pages.seq(slug) if slug is not None else 0
            if seq is None:   # no such campaign: the view answers 404
                return view(**kwargs)
            key = (request.endpoint, tuple(sorted(kwargs.items())), request.query_string,
                   locale() if localised else None, request.host_url, seq,
                   pages.generation(slug))
            answer = pages.get(key)
            current = True
            if answer is None:
                answer, current = pages.render(key, lambda: _made(view(**kwargs)))
                if not isinstance(answer, Answer):   # an error page, a stream: as it is
                    return answer
            marks = request.environ.get(MARK)
            if current and marks is not None:
                marks.append((slug, seq, pages.generation(slug), answer.made))
            response = current_app.response_class(answer.body, headers=list(answer.headers))
            response.set_etag(answer.etag)
            if "Cache-Control" not in response.headers:   # the share card keeps its own
                response.headers["Cache-Control"] = (
                    f"public, max-age={MAX_AGE}, stale-while-revalidate={STALE}")
                response.headers[SHARED_UNTIL] = shared_until()
            if localised:
                response.vary.add("Accept-Language")
            return response.make_conditional(request)
        return wrapped
    return decorate


class FastPath:
    """WSGI middleware: a repeat of a request answered from the cache gets the same bytes and
    headers without Flask (its routing, hooks and header handling cost several times the
    answer itself). Only while everything the answer depends on is known here to be current:
    no session cookie, the same URL, scheme, host and Accept-Language (the locale is chosen
    from it), and the campaign's seq, generation and age as the Flask path would check them.
    Anything else, and every 304, 404 or first request, goes through Flask."""

    def __init__(self, wsgi_app, pages: Pages, cookie: str):
        self.wsgi_app, self.pages, self.cookie = wsgi_app, pages, cookie + "="
        self.answers: dict[tuple, tuple] = {}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "GET" or self.cookie in environ.get("HTTP_COOKIE", ""):
            return self.wsgi_app(environ, start_response)
        key = (environ.get("PATH_INFO"), environ.get("QUERY_STRING"),
               environ.get("wsgi.url_scheme"), environ.get("HTTP_HOST"),
               environ.get("HTTP_ACCEPT_LANGUAGE"))
        kept = self.answers.get(key)
        if kept is not None and self._current(*kept[0]):
            status, headers, body, etag, timed = kept[1:]
            if timed:
                headers = headers + [(SHARED_UNTIL, shared_until())]
            if etag in environ.get("HTTP_IF_NONE_MATCH", ""):
                start_response("304 Not Modified", [h for h in headers if h[0].lower() not in
                                                     ("content-length", "content-type")])
                return [b""]
            start_response(status, headers)
            return [body]
        captured, marks = [], []
        environ[MARK] = marks

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers]
            return start_response(status, headers, exc_info)
        chunks = self.wsgi_app(environ, capture)
        if not marks or not captured or not captured[0].startswith("200"):
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        headers = [h for h in captured[1] if h[0] != SHARED_UNTIL]
        timed = len(headers) < len(captured[1])
        if any(name.lower() == "set-cookie" for name, _ in headers):
            return [body]
        etag = next((v for n, v in headers if n.lower() == "etag"), None)
        if etag:
            if len(self.answers) >= KEEP:
                self.answers.clear()
            self.answers[key] = (marks[0], captured[0], headers, body, etag, timed)
        return [body]

    def _current(self, slug, seq, generation, made) -> bool:
        now = time.monotonic()
        if now - made > RENDER_SECONDS or self.pages.generation(slug) != generation:
            return False
        if slug is None:
            return True
        known = self.pages._seqs.get(slug)
        return known is not None and known[0] == seq and now - known[1] < SEQ_SECONDS


def changed(app: Flask, slug: str) -> None:
    """For changes that do not move ``seq``. Other processes show them within RENDER_SECONDS."""
    app.extensions[EXTENSION].changed(slug)


def init_app(app: Flask) -> None:
    """Before web.security's ProxyFix wraps the app, so the fast path sees the scheme and host
    the proxy reported."""
    pages = app.extensions[EXTENSION] = Pages()
    app.wsgi_app = FastPath(app.wsgi_app, pages, app.config["SESSION_COOKIE_NAME"])

    @app.after_request
    def _forget_after_staff_writes(response):
        # Whatever a signed-in person changed under a campaign (a city's target or times, a
        # run sheet, a sponsor, a match, a hidden gift) may show on its public pages without a
        # new seq. Gifts move seq and come from visitors and providers, so they keep the cache.
        campaign = (request.view_args or {}).get("campaign")
        if (campaign and request.method == "POST" and response.status_code < 400
                and getattr(current_user, "is_authenticated", False)):
            pages.changed(campaign)
        return response
