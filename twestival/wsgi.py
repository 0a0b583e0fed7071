"""The WSGI entry point for production: ``gunicorn -k gevent -w 1 twestival.wsgi:app``.

gevent must patch the standard library before anything else imports it (sockets, threads,
the Redis and PostgreSQL clients); gunicorn's gevent worker patches too, but only after it
imported this module when ``--preload`` is used, so we patch first here either way.
"""
import gc

from gevent import monkey

monkey.patch_all()

from twestival import create_app  # noqa: E402  (after patching, on purpose)
from twestival.extensions import db  # noqa: E402
from twestival.storage import checkpoints  # noqa: E402

app = create_app()
with app.app_context():
    checkpoints.start(db.engine)   # SQLite only: WAL checkpoints off the request path

# Everything loaded so far lives as long as the process: out of the collector's sight, a full
# collection no longer walks it, which shortens the pauses every in-flight request waits out.
gc.freeze()
