"""An announcement to 150 cities while SMTP is down, stalled or up: how long the coordinator's
request takes (it only queues the mail), and how long the background sender then needs.

    python -m bench.announce [--cities 150] [--repeat 5]

Against no SMTP server at all ("none": the mail stays in the outbox, the request's own cost)
and three on 127.0.0.1: "down" (nothing listens: connection refused), "stalled"
(accepts the connection and never says hello: the sender waits for its time-out) and "up"
(aiosmtpd). The request goes through the real route (Flask test client, CSRF on, signed in).
"""
from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

from . import common


def _stalled_server() -> tuple[socket.socket, int]:
    listener = socket.create_server(("127.0.0.1", 0), backlog=512)

    def hold():
        held = []
        while True:
            try:
                held.append(listener.accept()[0])   # never answered
            except OSError:
                return
    threading.Thread(target=hold, daemon=True).start()
    return listener, listener.getsockname()[1]


def _up_server():
    from aiosmtpd.controller import Controller

    class Count:
        def __init__(self):
            self.n = 0

        async def handle_DATA(self, server, session, envelope):
            self.n += 1
            return "250 OK"
    handler = Count()
    controller = Controller(handler, hostname="127.0.0.1", port=common.free_port())
    controller.start()
    return controller, handler


def _prepare(path: Path, cities: int) -> None:
    from flask_migrate import upgrade

    from twestival import create_app
    from twestival.accounts.models import Role
    from twestival.accounts.service import create_user, grant, set_password
    from twestival.campaigns.service import add_city, create_campaign
    from twestival.extensions import db
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        camp = create_campaign(db.session, "bench", name="Bench", currency="GBP")
        boss = create_user(db.session, "boss@example.org", name="Boss")
        set_password(boss, "correct horse battery")
        grant(db.session, boss, Role.coordinator, camp)
        for n in range(cities):
            city = add_city(db.session, camp, f"city-{n:03d}", name=f"City {n:03d}", country="GB",
                            currency="GBP", timezone="Europe/London", target="1000.00")
            grant(db.session, create_user(db.session, f"org{n}@example.org", name=f"Org {n}"),
                  Role.organiser, camp, city)
        db.session.commit()
        db.engine.dispose()
    app.extensions["twestival.live"].stop()


def _announce(app, repeat: int) -> list[float]:
    client = app.test_client()
    token = lambda path: re.search(r'name="csrf-token" content="([^"]+)"',
                                   client.get(path).get_data(as_text=True)).group(1)
    client.post("/login", data={"email": "boss@example.org", "password": "correct horse battery",
                                "csrf_token": token("/login")})
    times = []
    for n in range(repeat):
        data = {"csrf_token": token("/coordinate/bench/announcements"), "title": f"Doors at 7 ({n})",
                "body": "Doors open at 19:00 local time. Bring the QR posters."}
        started = time.perf_counter()
        response = client.post("/coordinate/bench/announcements", data=data)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return times


def measure(workdir: Path, cities: int, repeat: int) -> dict:
    from sqlalchemy import func, select

    from twestival import create_app
    from twestival.extensions import db
    from twestival.mail import OutboxMessage, settle

    template = workdir / "template.db"
    _prepare(template, cities)
    stalled, stalled_port = _stalled_server()
    controller, handler = _up_server()
    servers = {"none": None, "down": common.free_port(), "stalled": stalled_port,
               "up": controller.port}
    results = {}
    for name, port in servers.items():
        path = workdir / f"{name}.db"
        path.write_bytes(template.read_bytes())
        mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port} if port else {}
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                          "SCHEDULER": "off", "RATELIMIT_ENABLED": False, **mail})
        times = _announce(app, repeat)
        started = time.perf_counter()
        settle(timeout=600)
        drained = time.perf_counter() - started
        with app.app_context():
            sent = db.session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_not(None)))
            queued = db.session.scalar(select(func.count()).select_from(OutboxMessage))
            db.engine.dispose()
        app.extensions["twestival.live"].stop()
        results[name] = {"request_ms_median": round(statistics.median(times), 1),
                         "request_ms_max": round(max(times), 1),
                         "mails_queued": queued, "mails_sent": sent,
                         "sender_after_request_s": round(drained, 2)}
    stalled.close()
    controller.stop()
    return {"cities": cities, "announcements": repeat, "by_smtp": results,
            "smtp_received": handler.n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(Path(tmp), args.cities, args.repeat), indent=2))


if __name__ == "__main__":
    main()
