"""An app served under gevent with chosen engine.io ping timings, for transport tests:
``python -m tests.gevent_server DATABASE_URL PING_INTERVAL PING_TIMEOUT`` prints the port, then
serves until killed. Each line read on stdin is answered with the number of greenlets waiting
somewhere (what a connection costs under gevent, besides its objects). (A separate
process: importing this patches everything for gevent.)"""
from gevent import monkey

monkey.patch_all()

import gc  # noqa: E402  (after patching, as gunicorn's gevent worker does)
import sys  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402
from gevent.fileobject import FileObjectPosix  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from twestival import create_app  # noqa: E402
from twestival.extensions import socketio  # noqa: E402


def running_greenlets() -> int:
    """Started, not ended, and switched out: those holding a saved stack (one spawned to run
    later has no frame yet)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet)
               and o.gr_frame is not None and o is not gevent.getcurrent())


def answer_stdin() -> None:
    lines = FileObjectPosix(sys.stdin.fileno(), "rb", close=False)   # without blocking the hub
    for _line in iter(lines.readline, b""):
        print(running_greenlets(), flush=True)


def main(url: str, ping_interval: float, ping_timeout: float) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                      "SCHEDULER": "off"})
    socketio.server.eio.ping_interval = ping_interval   # engine.io's defaults: 25 s and 20 s
    socketio.server.eio.ping_timeout = ping_timeout
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(server.server_port, flush=True)
    gevent.spawn(answer_stdin)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
