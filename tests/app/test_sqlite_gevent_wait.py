"""Under gevent (gunicorn -k gevent, ``twestival run``), a writer waiting for another process's
SQLite write lock must let the rest of its process run, and still give up with SQLAlchemy's
OperationalError (a 503 on the webhook paths) after the busy timeout."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from twestival import ROOT

SCRIPT = textwrap.dedent('''
    from gevent import monkey
    monkey.patch_all()
    import json, sqlite3, sys
    import gevent
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError
    from twestival import create_app
    from twestival.extensions import db

    path, timeout_ms, release = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "release"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "t",
                      "SQLITE_BUSY_TIMEOUT_MS": timeout_ms})
    other = sqlite3.connect(path, isolation_level=None)   # "another process" holds the lock
    other.execute("PRAGMA journal_mode=WAL")
    with app.app_context():
        db.session.execute(text("SELECT 1"))  # connected (pragmas set) before the lock is taken
        db.session.rollback()
    other.execute("BEGIN IMMEDIATE")
    ticks, outcome = [], {}

    def writer():
        with app.app_context():
            try:
                db.session.execute(text("CREATE TABLE IF NOT EXISTS t (x)"))
                db.session.commit()
                outcome["result"] = "committed"
            except OperationalError:
                outcome["result"] = "busy"

    def meanwhile():
        while "result" not in outcome:
            ticks.append(1)
            if release and len(ticks) == 20:
                other.execute("COMMIT")
            gevent.sleep(0.001)

    gevent.joinall([gevent.spawn(writer), gevent.spawn(meanwhile)])
    print(json.dumps({"result": outcome["result"], "ticks": len(ticks)}))
''')


def run(tmp_path, timeout_ms: int, release: bool) -> dict:
    path = tmp_path / "wait.db"
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(timeout_ms),
                          "release" if release else "hold"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_waiting_writer_lets_the_process_run_and_goes_on_once_the_lock_is_free(tmp_path):
    seen = run(tmp_path, timeout_ms=60_000, release=True)
    # The other greenlet ran while the writer waited (it is the one that frees the lock).
    assert seen == {"result": "committed", "ticks": seen["ticks"]} and seen["ticks"] >= 20


def test_a_lock_held_past_the_busy_timeout_is_sqlalchemys_operational_error(tmp_path):
    seen = run(tmp_path, timeout_ms=200, release=False)
    assert seen["result"] == "busy"
    assert seen["ticks"] > 1
