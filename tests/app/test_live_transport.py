"""The /live websocket transport on a real server: frames built once per message, no
permessage-deflate, and updates still arrive in order through real websocket clients."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import urllib.request

import socketio as sio
import websocket
from wsproto.frame_protocol import FrameProtocol

from twestival.live.transport import frame

from tests import services
from tests.chromium import serve
from tests.helpers import post_donation


def test_a_text_is_framed_once_and_as_wsproto_frames_it():
    for text in ("2", "42/live,[\"leaderboard_update\",{}]", "é" * 200, "x" * 70_000):
        expected = bytes(FrameProtocol(client=False, extensions=[]).send_data(text, fin=True))
        first = frame(text)
        assert first == expected
        assert frame(text) is first          # the same text object: the same bytes object
    copy = "".join(["4", "2"])               # equal, but another object
    assert frame(copy) == frame("42")


def test_permessage_deflate_is_not_negotiated(app, seed):
    with serve(app) as base:
        url = base.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
        ws = websocket.create_connection(url, timeout=10, header=[
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
        try:
            assert "sec-websocket-extensions" not in {k.lower() for k in ws.getheaders()}
            opened = ws.recv()
            assert opened.startswith("0") and "sid" in json.loads(opened[1:])
            ws.send("40/live,")              # Socket.IO connect to /live, over raw frames
            assert ws.recv().startswith("40/live,")
        finally:
            ws.close()


def watch_many(base: str, donate, watchers: int = 5, donations: int = 3) -> None:
    """``watchers`` websocket clients watch campaign tw while ``donate(i)`` posts donations;
    each gets every update after its snapshot, in seq order, the last with every donation."""
    snapshots: dict[int, int] = {}
    received: dict[int, list[dict]] = {n: [] for n in range(watchers)}
    changed = threading.Condition()

    def got(store):
        with changed:
            store()
            changed.notify_all()

    clients = []
    try:
        for n in range(watchers):
            client = sio.Client(reconnection=False)
            client.on("leaderboard", lambda d, n=n: got(lambda: snapshots.__setitem__(n, d["seq"])),
                      namespace="/live")
            client.on("leaderboard_update", lambda d, n=n: got(lambda: received[n].append(d)),
                      namespace="/live")
            clients.append(client)
            client.connect(base, namespaces=["/live"], transports=["websocket"])
            client.emit("watch", {"campaign": "tw"}, namespace="/live")
        with changed:
            assert changed.wait_for(lambda: len(snapshots) == watchers, 15)
        for i in range(donations):
            donate(i)

        def complete(updates):
            return any(r["slug"] == "london" and r["donations"] == donations
                       for u in updates for r in u["cities"])
        with changed:
            assert changed.wait_for(lambda: all(complete(u) for u in received.values()), 30)
    finally:
        for client in clients:
            client.disconnect()
    for n, updates in received.items():
        seqs = [u["seq"] for u in updates]
        # engine.io's client hands each message to its handler on a thread of its own, so on a
        # busy machine handlers may run out of arrival order: check for no gap and no repeat.
        assert sorted(seqs) == list(range(snapshots[n] + 1, snapshots[n] + 1 + len(seqs)))


def test_websocket_watchers_on_the_threaded_server(app, api_token):
    http = app.test_client()
    with serve(app) as base:
        watch_many(base, lambda i: post_donation(http, api_token, amount="1.00", key=f"t-{i}"))


def test_websocket_watchers_on_gunicorn_with_gevent(database_url, api_token, tmp_path):
    """Production serving: under gevent a packet is written by the greenlet that emits it."""
    process = services.AppProcess({"TWESTIVAL_DATABASE_URL": database_url,
                                   "TWESTIVAL_SECRET_KEY": "test-secret"}, tmp_path / "app.log")

    def donate(i: int) -> None:
        request = urllib.request.Request(
            f"{process.base}/api/v1/campaigns/tw/cities/london/donations", method="POST",
            data=json.dumps({"amount": "1.00", "currency": "GBP"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_token}",
                     "Idempotency-Key": f"g-{i}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201

    try:
        watch_many(process.base, donate, watchers=20, donations=10)
    finally:
        process.stop()


def test_a_connection_fed_only_by_direct_writes_stays_open_past_the_ping_timeout(
        database_url, api_token):
    """Under gevent, messages skip the connection's queue; engine.io's writer closes a
    connection whose queue stays silent for ping interval + timeout, so pings must still go
    through it. With 1 s + 1 s timings, a watcher stays connected through several cycles."""
    ping_interval = ping_timeout = 1
    server = subprocess.Popen([sys.executable, "-m", "tests.gevent_server", database_url,
                               str(ping_interval), str(ping_timeout)],
                              cwd=services.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        http = app_client_for(base, api_token)
        client = sio.Client(reconnection=False)
        updates: list[dict] = []
        client.on("leaderboard_update", updates.append, namespace="/live")
        client.connect(base, namespaces=["/live"], transports=["websocket"])
        client.emit("watch", {"campaign": "tw"}, namespace="/live")
        quiet = 3 * (ping_interval + ping_timeout)
        for i in range(quiet):            # a message a second, written directly
            http(i)
            client.sleep(1)
        assert client.connected
        http(quiet)
        deadline = time.monotonic() + 15
        while not any(r["donations"] == quiet + 1 for u in updates for r in u["cities"]
                      if r["slug"] == "london") and time.monotonic() < deadline:
            client.sleep(0.1)
        assert client.connected
        assert any(r["donations"] == quiet + 1 for u in updates for r in u["cities"])
        client.disconnect()
    finally:
        server.terminate()
        server.wait(timeout=10)


def app_client_for(base: str, token: str):
    def donate(i: int) -> None:
        request = urllib.request.Request(
            f"{base}/api/v1/campaigns/tw/cities/london/donations", method="POST",
            data=json.dumps({"amount": "1.00", "currency": "GBP"}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                     "Idempotency-Key": f"q-{i}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 201
    return donate


def test_under_gevent_a_watcher_costs_one_waiting_greenlet(database_url, seed):
    """What transport.install swaps under gevent, seen from outside: a watcher's connection
    waits in one greenlet only, the server's handler, which reads too: no reader, no writer
    waiting on the queue, no ping greenlet sleeping; a watcher coming by polling then
    upgrading (as browsers do) is served too. Fails if an engine.io or simple-websocket upgrade moves what
    the swaps rely on (the counts grow back, or watchers stop receiving)."""
    server = subprocess.Popen([sys.executable, "-m", "tests.gevent_server", database_url,
                               "25", "20"], cwd=services.ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def greenlets() -> int:
        server.stdin.write("count\n")
        server.stdin.flush()
        return int(server.stdout.readline())

    clients = []
    try:
        base = f"http://127.0.0.1:{server.stdout.readline().strip()}"

        def watcher(transports):
            client = sio.Client(reconnection=False)
            client.snapshots = queue.Queue()
            client.on("leaderboard", client.snapshots.put, namespace="/live")
            client.connect(base, namespaces=["/live"], transports=transports)
            client.emit("watch", {"campaign": "tw"}, namespace="/live")
            client.snapshots.get(timeout=15)
            clients.append(client)
            return client

        watcher(["websocket"])            # engine.io's service task starts with the first one
        time.sleep(0.5)
        before = greenlets()
        for _ in range(6):
            watcher(["websocket"])
        time.sleep(0.5)
        assert greenlets() - before == 6
        # Browsers start with long-polling and upgrade: the upgraded connection is read by
        # the same handler (its keep-alive HTTP connection holds one more here).
        upgraded = watcher(["polling", "websocket"])
        deadline = time.monotonic() + 15
        while upgraded.transport() != "websocket" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert upgraded.transport() == "websocket"
        upgraded.emit("watch", {"campaign": "tw"}, namespace="/live")
        assert upgraded.snapshots.get(timeout=15)["campaign"] == "tw"
    finally:
        for client in clients:
            client.disconnect()
        server.terminate()
        server.wait(timeout=10)


def test_under_gevent_a_client_that_stops_answering_pings_is_closed(database_url):
    """Without engine.io's writer greenlet (whose wait on the queue timed out), a client that
    stops answering pings is still closed by engine.io's service task: the websocket close
    frame comes after a ping or two. 1 s + 1 s ping timings."""
    server = subprocess.Popen([sys.executable, "-m", "tests.gevent_server", database_url, "1", "1"],
                              cwd=services.ROOT, stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        ws = websocket.create_connection(
            f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket", timeout=15)
        try:
            assert ws.recv().startswith("0")           # open
            ws.send("40/live,")
            assert ws.recv().startswith("40/live,")
            received = []
            while True:                                  # never answer the pings
                opcode, data = ws.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    break
                received.append(data.decode())
            assert received and set(received) <= {"2"}     # pinged, then closed
        finally:
            ws.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
