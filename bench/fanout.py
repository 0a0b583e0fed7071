"""Fan-out cost per watcher against its floor, measured in one run: N lean watchers
(bench.drain) on an in-process gevent server, spread over campaign rooms. Rounds take turns
between three ways of sending the same update to every watcher:

- *emit*: ``socketio.emit("leaderboard_update", ..., to=room)`` per campaign, the path the
  publisher takes (Socket.IO and engine.io encoding, room look-up, the websocket transport);
- *stock*: the same through python-socketio's own ``Manager.emit`` (before ``fan_out``);
- *bare*: the websocket frame of that same emit, built once, written with one non-blocking
  ``send()`` per watcher's socket and nothing else: what any server must at least do.

The server CPU (user + system, this process only: the watchers run in others) is taken around
each round's sending loop, which writes synchronously (a direct write, see live/transport.py),
so the figure is the fan-out alone. Prints one JSON line: µs per watcher per update for both,
their ratio, and whether every watcher received every update of both kinds.

    python -m bench.fanout --watchers 5000 --rounds 40
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402  (after patching, as gunicorn's gevent worker does)
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import socketio as python_socketio  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from . import common  # noqa: E402

CAMPAIGNS = 5
CLIENT_PROCESSES = 2   # the box has two cores


def _update(campaign: str, seq: int, rows: list[dict]) -> dict:
    # The size a busy night sends: two changed rows, totals, one gift.
    return {"campaign": campaign, "seq": seq, "cities": rows[:2], "gifts": [{
        "id": seq, "city": rows[0]["slug"], "amount_minor": 1000, "currency": "GBP",
        "donor_name": "Donor", "message": "For clean water, from the back of the room!",
        "at": "2026-12-05T03:00:00Z", "matched": False}],
        "total_raised_minor": seq, "total_provisional_minor": 0, "unassigned_reporting_minor": 0}


def _frame_of(socketio, event: str, data: dict) -> bytes:
    """The websocket frame an emit of ``data`` sends, built as the server builds it."""
    from engineio import packet as eio_packet
    from socketio import packet
    from twestival.live.transport import frame
    text = socketio.server.packet_class(packet.EVENT, namespace="/live",
                                        data=[event, data]).encode()
    return frame(eio_packet.Packet(eio_packet.MESSAGE, text).encode())


def main(args) -> dict:
    from twestival import create_app
    from twestival.campaigns.service import get_campaign
    from twestival.extensions import db, socketio
    from twestival.live.board import room, snapshot

    workdir = Path(tempfile.mkdtemp(prefix="twestival-fanout."))
    url = f"sqlite:///{workdir / 'fanout.db'}"
    campaigns = [c for c, _ in common.tokens(common.prepare_database(url, campaigns=CAMPAIGNS))]
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "SCHEDULER": "off"})
    server = WSGIServer(("127.0.0.1", common.free_port()), app, log=None, backlog=4096)
    server.start()
    per = -(-args.watchers // CLIENT_PROCESSES)
    clients = [subprocess.Popen(
        [sys.executable, "-m", "bench.drain", "--urls", f"http://127.0.0.1:{server.server_port}",
         "--campaigns", ",".join(campaigns), "--n", str(min(per, args.watchers - p * per)),
         "--offset", str(p * per)],
        cwd=common.ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for p in range(CLIENT_PROCESSES) if args.watchers - p * per > 0]
    connected = sum(json.loads(c.stdout.readline())["connected"] for c in clients)
    gevent.sleep(2)
    with app.app_context():
        rows = {c: snapshot(db.session, get_campaign(db.session, c))["cities"] for c in campaigns}
        db.session.rollback()
    eio = socketio.server.eio
    manager = socketio.server.manager
    for c in clients:
        c.stdin.write("start\n")
        c.stdin.flush()
    kinds = ("emit", "stock", "bare")
    cpu = dict.fromkeys(kinds, 0.0)
    sent = dict.fromkeys(kinds, 0)
    refused = 0
    for n in range(args.rounds * len(kinds)):
        kind = kinds[n % len(kinds)]   # in turn, so all see the same machine
        updates = {c: _update(c, n, rows[c]) for c in campaigns}
        if kind == "bare":   # outside the timed loop: a server builds it once per update
            targets = []
            for c in campaigns:
                data = _frame_of(socketio, "leaderboard_update", updates[c])
                for _sid, eio_sid in manager.get_participants("/live", room(c)):
                    targets.append((eio.sockets[eio_sid].websocket.ws.sock, data))
        started = time.process_time()
        if kind == "emit":
            for c in campaigns:
                socketio.emit("leaderboard_update", updates[c], namespace="/live", to=room(c))
                sent[kind] += len(manager.rooms["/live"].get(room(c), ()))
        elif kind == "stock":
            for c in campaigns:
                python_socketio.Manager.emit(manager, "leaderboard_update", updates[c],
                                             "/live", room=room(c))
                sent[kind] += len(manager.rooms["/live"].get(room(c), ()))
        else:
            for sock, data in targets:
                try:
                    sock.send(data, 0, 0.0)
                except OSError:
                    refused += 1
            sent[kind] += len(targets)
        cpu[kind] += time.process_time() - started
        gevent.sleep(1 / args.rate)
    gevent.sleep(1.5)   # the last frames reach the watchers
    received = 0
    for c in clients:
        c.stdin.write("stop\n")
        c.stdin.flush()
        received += json.loads(c.stdout.readline())["received"]
        c.wait(timeout=60)
    server.stop(timeout=1)
    shutil.rmtree(workdir, ignore_errors=True)
    us = {k: cpu[k] * 1e6 / max(1, sent[k]) for k in kinds}
    return {"watchers": connected, "rounds_each": args.rounds,
            "emit_us_per_watcher": us["emit"], "stock_emit_us_per_watcher": us["stock"],
            "bare_send_us_per_watcher": us["bare"], "ratio_to_bare": us["emit"] / us["bare"],
            "stock_ratio_to_bare": us["stock"] / us["bare"],
            "sent": sum(sent.values()), "received": received, "bare_refused": refused}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--watchers", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=40, help="rounds of each kind")
    parser.add_argument("--rate", type=float, default=4, help="rounds per second")
    print(json.dumps(main(parser.parse_args())))
