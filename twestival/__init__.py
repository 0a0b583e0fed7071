"""twestival: one night, many cities, one cause — a live fundraising ledger."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Flask stays out of the import graph of the domain packages
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def socketio_async_mode() -> str:
    """gevent when the process was patched for it (``twestival run``, gunicorn -k gevent)."""
    try:
        from gevent import monkey
        if monkey.is_module_patched("socket"):
            return "gevent"
    except ImportError:  # pragma: no cover - gevent is a dependency
        pass
    return "threading"


def create_app(config: dict | None = None) -> Flask:
    from flask import Flask

    from . import models  # noqa: F401  (complete metadata before anything touches it)
    from . import cli, live, metrics, settings, web
    from .storage.database import configure_engine
    from .extensions import csrf, db, limiter, login_manager, migrate, socketio
    from .live.queue import socketio_options
    from .streams.catalogue import register_all

    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    settings.load(app, config)
    register_all()

    db.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    # Same-origin websockets unless origins are listed (an empty list would disable the check).
    socketio.init_app(app, async_mode=app.config.get("SOCKETIO_ASYNC_MODE") or socketio_async_mode(),
                      cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS") or None,
                      **socketio_options(app.config.get("REDIS_URL")))
    socketio.on_namespace(live.LiveNamespace("/live"))
    live.init_app(app, socketio, db)
    metrics.listen()
    web.init_app(app)
    cli.init_app(app)
    return app
