"""Delivery alone, the part of benchmark 2 that grows with the watchers: N python-socketio
watchers (bench.watchers) on an in-process gevent server; the server emits a board update to
each campaign room RATE times a second, with no donations, so the process CPU per delivered
message is the push path only (robust on a shared machine, unlike latency). Prints one JSON
line: messages received and expected, server CPU ms per message, server RSS KB per watcher.

    python -m bench.delivery --watchers 1000 --seconds 10 [--deflate] [--lean] [--py-spy out.txt]
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402  (after patching, as gunicorn's gevent worker does)
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import psutil  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from . import common  # noqa: E402
from .screen import CAMPAIGNS  # noqa: E402


def main(args) -> dict:
    from twestival import create_app
    from twestival.campaigns.service import get_campaign
    from twestival.extensions import db, socketio
    from twestival.live.board import room, snapshot

    workdir = Path(tempfile.mkdtemp(prefix="twestival-delivery."))
    url = f"sqlite:///{workdir / 'delivery.db'}"
    campaigns = [c for c, _ in common.tokens(common.prepare_database(url, campaigns=CAMPAIGNS))]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER": "off"})
    server = WSGIServer(("127.0.0.1", common.free_port()), app, log=None, backlog=4096)
    server.start()
    me = psutil.Process()
    rss_before = me.memory_info().rss
    per = -(-args.watchers // 4)
    module = ["bench.drain"] if args.lean else ["bench.watchers", "--sample", "0"]
    clients = [subprocess.Popen(
        [sys.executable, "-m", *module, "--urls", f"http://127.0.0.1:{server.server_port}",
         "--campaigns", ",".join(campaigns), "--n", str(min(per, args.watchers - p * per)),
         "--offset", str(p * per)] + (["--deflate"] if args.deflate else []),
        cwd=common.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for p in range(4) if args.watchers - p * per > 0]
    connected = sum(json.loads(c.stdout.readline())["connected"] for c in clients)
    gevent.sleep(2)
    rss_after = me.memory_info().rss
    with app.app_context():
        boards = {c: snapshot(db.session, get_campaign(db.session, c)) for c in campaigns}
        db.session.rollback()
    for c in clients:
        c.stdin.write("start\n")
        c.stdin.flush()
    spy = None
    if args.py_spy:
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                                str(os.getpid()), "-o", args.py_spy, "-f", "raw", "-r", "100",
                                "-d", str(int(args.seconds)), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu_before = me.cpu_times()
    started, seq, emits, emitting = time.monotonic(), 0, 0, 0.0
    while time.monotonic() - started < args.seconds:
        seq += 1
        round_started = time.monotonic()
        for c in campaigns:   # an update of two rows, the size a busy night sends
            socketio.emit("leaderboard_update", {
                "campaign": c, "seq": seq, "cities": boards[c]["cities"][:2],
                "total_raised_minor": seq, "total_provisional_minor": 0,
                "unassigned_reporting_minor": 0}, namespace="/live", to=room(c))
            emits += 1
        emitting += time.monotonic() - round_started
        gevent.sleep(1 / args.rate)
    gevent.sleep(args.drain)   # the last updates reach slow watchers
    cpu_after = me.cpu_times()
    cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    received = 0
    for c in clients:
        c.stdin.write("stop\n")
        c.stdin.flush()
        received += json.loads(c.stdout.readline())["received"]
        c.wait(timeout=60)
    if spy:
        spy.wait()
    server.stop(timeout=1)
    shutil.rmtree(workdir, ignore_errors=True)
    return {"watchers": connected, "received": received,
            "expected": emits * connected // len(campaigns), "deflate_offered": args.deflate,
            "lean_watchers": args.lean, "rounds": seq, "emit_ms_per_round": emitting * 1e3 / seq,
            "server_cpu_ms_per_message": cpu * 1e3 / max(1, received),
            "kb_per_watcher": (rss_after - rss_before) / 1024 / max(1, connected)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=4, help="updates per second per room")
    parser.add_argument("--drain", type=float, default=1.5, help="seconds to wait after the last emit")
    parser.add_argument("--deflate", action="store_true", help="watchers offer permessage-deflate")
    parser.add_argument("--lean", action="store_true",
                        help="lean watchers (bench.drain) instead of python-socketio clients")
    parser.add_argument("--py-spy", help="record the server with py-spy (raw format) into this file")
    print(json.dumps(main(parser.parse_args())))
