"""One watcher process for benchmark 2: many python-socketio asyncio clients on websockets.

Every client counts what it receives; the first ``--sample`` clients also log, per update and
city, which donations (by the city's donation count) they saw and when. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import socketio


async def main(args) -> None:
    urls, campaigns = args.urls.split(","), args.campaigns.split(",")
    received = 0
    seen: list[list] = []      # [watcher, campaign, city, first_count, last_count, time]
    clients = []

    def make(index: int):
        # Browsers offer permessage-deflate on every websocket; --deflate does the same.
        options = {"websocket_extra_options": {"compress": 15}} if args.deflate else {}
        client = socketio.AsyncClient(reconnection=False, **options)
        campaign = campaigns[(args.offset + index) % len(campaigns)]
        last: dict[str, int] = {}
        sampled = index < args.sample

        def update(data):
            nonlocal received
            received += 1
            if sampled:
                now = time.time()
                for row in data["cities"]:
                    before = last.get(row["slug"], 0)
                    if row["donations"] > before:
                        seen.append([index, campaign, row["slug"], before + 1, row["donations"], now])
                        last[row["slug"]] = row["donations"]

        def snapshot(data):
            for row in data["cities"]:
                last[row["slug"]] = row["donations"]

        client.on("leaderboard_update", update, namespace="/live")
        client.on("leaderboard", snapshot, namespace="/live")
        return client, campaign

    async def connect(index: int) -> None:
        client, campaign = make(index)
        url = urls[(args.offset + index) % len(urls)]
        await client.connect(url, namespaces=["/live"], transports=["websocket"],
                             wait_timeout=60)
        await client.emit("watch", {"campaign": campaign}, namespace="/live")
        clients.append(client)

    for start in range(0, args.n, 50):
        await asyncio.gather(*(connect(i) for i in range(start, min(args.n, start + 50))))
    print(json.dumps({"connected": len(clients)}), flush=True)
    # The driver says when the measured window starts and ends, on stdin.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    received, seen[:] = 0, []
    await loop.run_in_executor(None, sys.stdin.readline)
    result = {"received": received, "seen": seen}
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--campaigns", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--sample", type=int, default=50)
    parser.add_argument("--deflate", action="store_true", help="offer permessage-deflate")
    asyncio.run(main(parser.parse_args()))
