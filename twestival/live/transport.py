"""engine.io's websocket transport, made cheap per watcher.

A board update goes to every watcher of a campaign as one and the same engine.io text (the
manager encodes it once per emit). simple-websocket would still run it through wsproto once
per watcher to build an identical frame; here each text is framed once and the bytes are
written as they are. Server frames are not masked, so the same bytes are right for every
connection, as long as no extension rewrites them: permessage-deflate is not offered (browsers
ask for it; it cost ~100 KB of server memory per connection, measured, for a zlib context that
compresses each update of about a kilobyte again for every watcher).

Under gevent (production) a connection also costs less memory: it waits in one greenlet
instead of four (see ``websocket_class`` and ``_timer_pings``; bench/NOTES.md has the memory per
watcher). These swaps rely on engine.io 4.x internals (the driver
table, ``Socket._websocket_handler``'s protocol, ``schedule_ping``); tests/app/test_live_transport.py
fails if an upgrade moves them.
"""
from __future__ import annotations

import time
from collections import OrderedDict

import gevent
import gevent.queue
from engineio import exceptions, packet
from socketio import packet as sio_packet
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


class _NoReader:
    """simple-websocket starts a reader thread per connection; under gevent the connection's
    handler greenlet, which only waits for that reader's messages anyway, reads instead."""

    name = ""

    def __init__(self, target):
        pass

    def start(self):
        pass


def websocket_class(base, direct: bool):
    """Subclass the async driver's websocket wrapper (``SimpleWebSocketWSGI`` and its gevent
    flavour): same handshake and closing; text sent as pre-built frames.

    ``direct`` (gevent only): a message for a connection with nothing queued and nothing being
    written is written at once by the greenlet that emits it, instead of going through the
    connection's queue (a queue put, a wake-up, a get with a timer, per watcher). Greenlets
    switch only where they wait, so "nothing queued, nobody writing" still holds when the
    write happens; under threads it would not, hence gevent only. Also under gevent only, a
    connection waits in one greenlet, the server's handler, instead of four (an idle greenlet
    holds ~8 KB: its saved C stack and its own chunk of Python frames): the handler reads the
    socket itself (``wait``) instead of waiting on simple-websocket's reader, engine.io's
    writer is replaced by a greenlet started only when something is queued (``_serve``), and
    pings are timers (``_timer_pings``).
    """

    class FramedWebSocket(base):
        pending = None    # the unsent end of a frame a direct write could not finish
        writing = False   # a greenlet is inside send()

        def __init__(self, handler, server, **kwargs):
            super().__init__(handler, server, **kwargs)
            if direct:
                self.server_args = {**self.server_args, "thread_class": _NoReader}

        def __call__(self, environ, start_response):
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
            # engine.io's middleware hands gunicorn's socket to eventlet-style code as an
            # instance of a class it defines per request; the environ lives as long as the
            # connection (Socket.IO keeps it for the handlers), so that class would too.
            environ.pop("eventlet.input", None)
            socket = getattr(self.app, "__self__", None)  # engine.io Socket whose handler we run
            if not direct or socket is None or not hasattr(socket, "queue"):
                return super().__call__(environ, start_response)
            socket.send = self._sender(socket)
            socket.websocket = self   # fan-out writes to it directly (``fan_out``)
            closes = socket.close

            def close(*args, **kwargs):
                if socket.upgraded:   # (a failed upgrade leaves the queue to long-polling)
                    self._flush_soon(socket)   # runs when close() waits, or after it
                return closes(*args, **kwargs)
            socket.close = close
            self.app = lambda _ws: self._serve(socket)
            try:
                return super().__call__(environ, start_response)
            finally:
                ws = getattr(self, "ws", None)
                if ws is not None:  # what the reader thread did when it ended
                    ws.connected = False
                    ws.sock.close()

        def _serve(self, socket):
            """engine.io's ``Socket._websocket_handler`` (python-engineio 4.12-4.x) less its
            writer greenlet, which waited on the connection's queue for the whole connection:
            messages are written by whoever emits them (``_sender``), and what still goes
            through the queue (the open packet, pings, close) by a greenlet started when
            something is queued, which ends once the queue is empty. A client that stops
            answering pings is closed by engine.io's service task (``check_ping_timeout``)."""
            server = socket.server

            def wait():
                data = self.wait()
                if data and len(data) > server.max_http_buffer_size:
                    raise ValueError("packet is too large")
                return data

            if socket.connected:   # an upgrade from long-polling, as engine.io does it
                socket.upgrading = True
                pkt = packet.Packet(encoded_packet=wait())
                if pkt.packet_type != packet.PING or pkt.data != "probe":
                    socket.upgrading = False
                    return []
                self.send(packet.Packet(packet.PONG, data="probe").encode())
                socket.queue.put(packet.Packet(packet.NOOP))  # ends the pending poll
                pkt = packet.Packet(encoded_packet=wait())
                if pkt.packet_type != packet.UPGRADE:
                    socket.upgrading = False
                    return []
                socket.upgraded, socket.upgrading = True, False
            else:
                socket.connected = socket.upgraded = True
            self._flush_soon(socket)   # the open packet, or what was queued while upgrading
            while True:
                try:
                    data = wait()
                except Exception:
                    break
                if data is None:   # closed by the client
                    break
                try:
                    socket.receive(packet.Packet(encoded_packet=data))
                except exceptions.UnknownPacketError:
                    pass
                except Exception:
                    if not socket.closed:
                        server.logger.exception("Unknown receive error")
                    break
            socket.queue.put(None)
            self._flush_soon(socket)
            socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)
            return []

        flushing = False   # a greenlet is writing out the queue

        def _flush_soon(self, socket):
            if not self.flushing:
                self.flushing = True
                gevent.spawn(self._flush, socket)

        def _flush(self, socket):
            """What engine.io's writer did with each queued packet, until the queue is empty;
            ``None`` (queued when the socket closes) closes the websocket."""
            try:
                while True:
                    try:
                        pkt = socket.queue.get(block=False)
                    except gevent.queue.Empty:
                        return
                    socket.queue.task_done()
                    if pkt is None:
                        break
                    try:
                        self.send(pkt.encode())
                    except Exception:
                        break
                self.close()
            finally:
                self.flushing = False

        def wait(self):
            if not direct:
                return super().wait()
            ws = self.ws   # simple-websocket's Server: its parser and received messages
            while ws.connected and not ws.input_buffer:
                try:
                    data = ws.sock.recv(ws.receive_bytes)
                except OSError:
                    data = b""
                if not data:   # closed by the client, or broken
                    ws.connected = False
                    break
                ws.ws.receive_data(data)
                ws.connected = ws._handle_events()   # answers pings and closes, queues messages
            if ws.input_buffer:
                return ws.input_buffer.pop(0)
            return None

        def _sender(self, socket):
            queued = socket.send   # engine.io's own: check the ping, put on the queue

            def send(pkt, data=None):
                """``data``: the packet's frame when the caller has it already (``fan_out``)."""
                # Only text messages: the rest (open, pings, noop, close) and anything behind
                # queued packets keep engine.io's path through the queue, in order.
                ws = getattr(self, "ws", None)
                if (pkt.packet_type != packet.MESSAGE or not isinstance(pkt.data, str)
                        or ws is None or not ws.connected or self.writing
                        or self.pending is not None or not socket.upgraded or socket.upgrading
                        or socket.closed or not socket.queue.empty()):
                    queued(pkt)
                    if socket.upgraded and not socket.upgrading:
                        self._flush_soon(socket)
                    return
                if not socket.check_ping_timeout():  # closed it: the packet goes nowhere
                    return
                if data is None:
                    data = frame(pkt.encode())
                try:
                    sent = ws.sock.send(data, 0, 0.0)   # gevent's timeout 0: never wait here
                except OSError:   # buffer full (or broken): the flusher waits for it
                    socket.queue.put(pkt)
                    self._flush_soon(socket)
                    return
                if sent < len(data):
                    self.pending = memoryview(data)[sent:]
                    socket.queue.put(packet.Packet(packet.NOOP))  # the flusher finishes it
                    self._flush_soon(socket)
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


def fan_out(manager, event: str, data, namespace: str, room: str) -> bool:
    """Send one event to the watchers of ``room`` in this process, encoded and framed once.

    python-socketio's emit encodes once too, then hands each watcher's copy through four calls
    (its participant generator, the server, engine.io's session look-up, the socket) before the
    transport frames it (a cache look-up per watcher). Here the frame is built once and each
    watcher costs a dictionary look-up and the transport's write. False when the message has
    binary attachments: the caller then uses python-socketio's own emit."""
    participants = manager.rooms.get(namespace, {}).get(room)
    if not participants:
        return True
    text = manager.server.packet_class(sio_packet.EVENT, namespace=namespace,
                                       data=[event, data]).encode()
    if not isinstance(text, str):
        return False
    pkt = packet.Packet(packet.MESSAGE, text)
    framed = frame(pkt.encode())
    sockets, send = manager.server.eio.sockets, manager.server._send_eio_packet
    for eio_sid in list(participants.values()):
        socket = sockets.get(eio_sid)
        if socket is not None and not socket.closed \
                and getattr(socket, "websocket", None) is not None:
            socket.send(pkt, framed)
        else:   # long-polling, threads, gone or unknown sessions: python-socketio's path
            send(eio_sid, pkt)
    return True


def _timer_pings(eio) -> None:
    """engine.io pings each client from a greenlet of its own that sleeps through the ping
    interval, so every connection holds one more running greenlet nearly all the time. Here
    the ping is a gevent timer that starts a greenlet only when it is due; what the ping does
    is engine.io's ``Socket._send_ping`` after its sleep. Set per socket from engine.io's
    ``connect`` event, which comes before its first ``schedule_ping()``."""
    connected = eio.handlers.get("connect")
    if connected is None or getattr(connected, "_timer_pings", False):
        return

    def on_connect(sid, environ, *args):
        socket = eio.sockets.get(sid)
        if socket is not None:
            socket.schedule_ping = _ping_scheduler(socket, eio, gevent.spawn_later)
        return connected(sid, environ, *args)

    on_connect._timer_pings = True
    eio.handlers["connect"] = on_connect


def _ping_scheduler(socket, eio, spawn_later):
    def ping():
        if not socket.closing and not socket.closed:
            socket.last_ping = time.time()
            socket.send(packet.Packet(packet.PING))

    def schedule_ping():
        # engine.io's rule: a new ping only once the previous one was answered
        if socket.last_ping:
            socket.last_ping = None
            spawn_later(eio.ping_interval, ping)
    return schedule_ping


def install(socketio) -> None:
    """Swap the websocket class of the Socket.IO server's engine.io (a driver table entry
    engine.io looks up per connection; there is no public option for it); under gevent, ping
    by timers and do not record where each greenlet was spawned."""
    eio = socketio.server.eio
    gevent_mode = eio.async_mode == "gevent"
    if gevent_mode:
        # A debugging aid, on by default: every greenlet keeps the stack that spawned it
        # (~30 frame records per connection) and a reference to its parent.
        gevent.config.track_greenlet_tree = False
        _timer_pings(eio)
    base = eio._async.get("websocket")
    if base is None or not hasattr(base, "send") or getattr(base, "_framed", False):
        return
    framed = websocket_class(base, direct=gevent_mode)
    framed._framed = True
    eio._async = {**eio._async, "websocket": framed}
