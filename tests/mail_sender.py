"""One mail sender in its own process: ``python -m tests.mail_sender DATABASE_URL PORT NOW``
runs the retry job once against the SMTP server on 127.0.0.1:PORT and prints how many it sent.
The exactly-once test starts two at the same moment."""
from __future__ import annotations

import datetime as dt
import sys

from twestival import create_app
from twestival.extensions import db
from twestival.mail import retry_unsent


def main(url: str, port: str, now: str) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                      "TESTING": True, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": int(port)})
    try:
        with app.app_context():
            print(retry_unsent(db.engine, dt.datetime.fromisoformat(now)))
            db.engine.dispose()
    finally:
        app.extensions["twestival.live"].stop()


if __name__ == "__main__":
    main(*sys.argv[1:4])
