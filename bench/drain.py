"""Lean watchers for benchmark 2: real websocket watchers that cost their own process little.

Each connection does what a browser's Socket.IO client does on the wire — the websocket
upgrade to ``/socket.io/?EIO=4&transport=websocket``, the /live namespace connect, ``watch``,
and a pong for every ping — so the server sends it exactly what it sends any watcher. But
frames are only counted, not decoded: the python-socketio clients of ``bench.watchers`` spend
~0.1 ms of Python per message (Engine.IO, Socket.IO and JSON decoding), which at 5,000 watchers
is more than the second core of a 2-core box, and then the server shares its core with them.
Latency is still measured by ``bench.watchers``' sampled python-socketio clients beside these.

Same interface as ``bench.watchers``: prints ``{"connected": N}``, then waits for two lines on
stdin (start, stop of the measured window) and prints ``{"received": N, "seen": []}``.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import sys
from urllib.parse import urlsplit

UPDATE = b'42/live,["leaderboard_update"'


def _frame(text: str) -> bytes:
    """A masked client text frame (clients must mask; the key can be any 4 bytes)."""
    payload, key = text.encode(), os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + key + masked


class Watcher(asyncio.Protocol):
    """One websocket: the handshake, then a frame scanner that answers pings and counts updates."""

    def __init__(self, campaign: str, counts: dict, ready: asyncio.Future):
        self.campaign, self.counts, self.ready = campaign, counts, ready
        self.buffer = b""
        self.upgraded = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self.buffer = buffer
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self._fail(f"no websocket: {buffer[:80]!r}")
                return
            self.upgraded, buffer = True, buffer[end + 4:]
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            opcode, length = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = struct.unpack_from("!H", buffer, pos + 2)[0], 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = struct.unpack_from("!Q", buffer, pos + 2)[0], 10
            if size - pos < head + length:
                break
            start = pos + head
            if opcode == 1:
                self._text(buffer, start, length)
            elif opcode == 9:   # a websocket-level ping: pong with the same payload
                self.transport.write(bytes([0x8A, 0x80 | length]) + b"\0\0\0\0"
                                     + buffer[start:start + length])
            elif opcode == 8:
                self.transport.close()
            pos = start + length
        self.buffer = buffer[pos:]

    def _text(self, buffer: bytes, start: int, length: int) -> None:
        if buffer.startswith(UPDATE, start):
            self.counts["received"] += 1
        elif length == 1 and buffer[start] == 0x32:           # Engine.IO ping "2"
            self.transport.write(_frame("3"))
        elif buffer[start] == 0x30:                             # Engine.IO open "0{...}"
            self.transport.write(_frame("40/live,"))
        elif buffer.startswith(b"40/live,", start):             # namespace connected
            self.transport.write(_frame(f'42/live,["watch",{json.dumps({"campaign": self.campaign})}]'))
        elif buffer.startswith(b'42/live,["leaderboard"', start) and not self.ready.done():
            self.ready.set_result(True)                         # the snapshot: watching

    def _fail(self, reason: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(reason))
        self.transport.close()

    def connection_lost(self, exc) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"closed before watching: {exc}"))


async def watch(url: str, campaign: str, counts: dict) -> asyncio.Transport:
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    transport, _ = await loop.create_connection(lambda: Watcher(campaign, counts, ready),
                                                parts.hostname, parts.port)
    key = base64.b64encode(os.urandom(16)).decode()
    transport.write((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                     f"Host: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    await asyncio.wait_for(ready, 60)
    return transport


async def main(args) -> None:
    urls, campaigns = args.urls.split(","), args.campaigns.split(",")
    counts = {"received": 0}
    transports = []
    for start in range(args.offset, args.offset + args.n, 100):
        batch = range(start, min(args.offset + args.n, start + 100))
        transports += await asyncio.gather(*(watch(urls[i % len(urls)], campaigns[i % len(campaigns)],
                                                   counts) for i in batch))
    print(json.dumps({"connected": len(transports)}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    counts["received"] = 0
    await loop.run_in_executor(None, sys.stdin.readline)
    received = counts["received"]
    for transport in transports:
        transport.close()
    await asyncio.sleep(0.1)   # let the closes go out before the result says we are done
    print(json.dumps({"received": received, "seen": []}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--campaigns", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0)
    asyncio.run(main(parser.parse_args()))
