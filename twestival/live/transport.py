"""engine.io's websocket transport, made cheap per watcher.

A board update goes to every watcher of a campaign as one and the same engine.io text (the
manager encodes it once per emit). simple-websocket would still run it through wsproto once
per watcher to build an identical frame; here each text is framed once and the bytes are
written as they are. Server frames are not masked, so the same bytes are right for every
connection, as long as no extension rewrites them: permessage-deflate is not offered (browsers
ask for it; it cost ~100 KB of server memory per connection, measured, for a zlib context that
compresses each update of about a kilobyte again for every watcher).
"""
from __future__ import annotations

from collections import OrderedDict

from engineio import packet
from wsproto.frame_protocol import FrameProtocol

FRAMES_KEPT = 16   # texts in flight at once: a few updates, pings, snapshots

# No lock: a lost race between two threads builds one frame twice, which is harmless.
_frames: OrderedDict[int, tuple[str, bytes]] = OrderedDict()


def frame(text: str) -> bytes:
    """The websocket frame of ``text``, built once while the same text object is being sent
    to many connections (keyed by identity, and the text is kept so the id is not reused)."""
    key = id(text)
    found = _frames.get(key)
    if found is not None and found[0] is text:
        return found[1]
    framed = bytes(FrameProtocol(client=False, extensions=[]).send_data(text, fin=True))
    _frames[key] = (text, framed)
    while len(_frames) > FRAMES_KEPT:
        try:
            _frames.popitem(last=False)
        except KeyError:  # emptied by another thread meanwhile
            break
    return framed


def websocket_class(base, direct: bool):
    """Subclass the async driver's websocket wrapper (``SimpleWebSocketWSGI`` and its gevent
    flavour): same handshake, reading and closing; text sent as pre-built frames.

    ``direct`` (gevent only): a message for a connection with nothing queued and nothing being
    written is written at once by the greenlet that emits it, instead of going through the
    connection's queue to its writer greenlet (a queue put, a wake-up, a get with a timer, per
    watcher). Greenlets switch only where they wait, so "nothing queued, writer idle" still
    holds when the write happens; under threads it would not, hence gevent only.
    """

    class FramedWebSocket(base):
        pending = None    # the unsent end of a frame a direct write could not finish
        writing = False   # the writer greenlet is inside send()

        def __call__(self, environ, start_response):
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
            socket = getattr(self.app, "__self__", None)  # engine.io Socket whose handler we run
            if direct and socket is not None and hasattr(socket, "queue"):
                socket.send = self._sender(socket)
            return super().__call__(environ, start_response)

        def _sender(self, socket):
            queued = socket.send   # engine.io's own: check the ping, put on the queue

            def send(pkt):
                # Only messages: pings (every ping interval) still pass through the queue,
                # since the writer takes a queue silent for ping interval + timeout as a dead
                # connection and closes it.
                ws = getattr(self, "ws", None)
                if (pkt.packet_type != packet.MESSAGE or not isinstance(pkt.data, str)
                        or ws is None or not ws.connected or self.writing
                        or self.pending is not None or not socket.upgraded or socket.upgrading
                        or socket.closed or not socket.queue.empty()):
                    return queued(pkt)
                if not socket.check_ping_timeout():  # closed it: the packet goes nowhere
                    return
                data = frame(pkt.encode())
                try:
                    sent = ws.sock.send(data, 0, 0.0)   # gevent's timeout 0: never wait here
                except OSError:   # buffer full (or broken): the writer waits for it
                    socket.queue.put(pkt)
                    return
                if sent < len(data):
                    self.pending = memoryview(data)[sent:]
                    socket.queue.put(packet.Packet(packet.NOOP))  # wake the writer to finish
            return send

        def send(self, message):
            ws = self.ws
            if not ws.connected:
                return super().send(message)
            self.writing = True
            try:
                if self.pending is not None:
                    rest, self.pending = self.pending, None
                    ws.sock.sendall(rest)
                if isinstance(message, bytes):
                    return super().send(message)
                data = frame(message)
                # One send() nearly always takes a frame this small whole; gevent's sendall()
                # would first ask the kernel for the buffer size, a second system call.
                sent = ws.sock.send(data)
                if sent < len(data):
                    ws.sock.sendall(memoryview(data)[sent:])
            except OSError:  # engine.io's writer ends the connection on OSError
                ws.connected = False
                raise
            finally:
                self.writing = False

    FramedWebSocket.__name__ = f"Framed{base.__name__}"
    return FramedWebSocket


def install(socketio) -> None:
    """Swap the websocket class of the Socket.IO server's engine.io (a driver table entry
    engine.io looks up per connection; there is no public option for it)."""
    eio = socketio.server.eio
    base = eio._async.get("websocket")
    if base is None or not hasattr(base, "send") or getattr(base, "_framed", False):
        return
    framed = websocket_class(base, direct=eio.async_mode == "gevent")
    framed._framed = True
    eio._async = {**eio._async, "websocket": framed}
