"""The /live websocket transport on a real server: frames built once per message, no
permessage-deflate, and updates still arrive in order through real websocket clients."""
from __future__ import annotations

import json
import threading

import socketio as sio
import websocket
from wsproto.frame_protocol import FrameProtocol

from twestival.live.transport import frame

from .browser import serve
from .helpers import post_donation


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


def test_many_websocket_watchers_get_every_update_in_order(app, api_token):
    snapshots: dict[int, int] = {}
    received: dict[int, list[int]] = {}
    changed = threading.Condition()

    def watcher(n: int):
        client = sio.Client(reconnection=False)
        received[n] = []

        def got(into, value):
            with changed:
                into(value)
                changed.notify_all()

        client.on("leaderboard", lambda d: got(lambda s: snapshots.__setitem__(n, s), d["seq"]),
                  namespace="/live")
        client.on("leaderboard_update", lambda d: got(received[n].append, d["seq"]),
                  namespace="/live")
        return client

    with serve(app) as base:
        clients = [watcher(n) for n in range(5)]
        try:
            for client in clients:
                client.connect(base, namespaces=["/live"], transports=["websocket"])
                client.emit("watch", {"campaign": "tw"}, namespace="/live")
            with changed:
                assert changed.wait_for(lambda: len(snapshots) == len(clients), 15)
            http = app.test_client()
            for i in range(3):
                assert post_donation(http, api_token, amount="1.00", key=f"t-{i}").status_code == 201
                app.extensions["twestival.live"].drain()
            with changed:
                assert changed.wait_for(lambda: all(len(r) >= 3 for r in received.values()), 15)
        finally:
            for client in clients:
                client.disconnect()
    for n, seqs in received.items():
        assert seqs == list(range(snapshots[n] + 1, snapshots[n] + 1 + len(seqs)))
