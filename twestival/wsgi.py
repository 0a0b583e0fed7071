"""The WSGI entry point for production: ``gunicorn -k gevent -w 1 twestival.wsgi:app``.

gevent must patch the standard library before anything else imports it (sockets, threads,
the Redis and PostgreSQL clients); gunicorn's gevent worker patches too, but only after it
imported this module when ``--preload`` is used, so we patch first here either way.
"""
from gevent import monkey

monkey.patch_all()

from twestival import create_app  # noqa: E402  (after patching, on purpose)

app = create_app()
