"""An app served under gevent with chosen engine.io ping timings, for transport tests:
``python -m tests.gevent_server DATABASE_URL PING_INTERVAL PING_TIMEOUT`` prints the port, then
serves until killed. (A separate process: importing this patches everything for gevent.)"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402  (after patching, as gunicorn's gevent worker does)

from gevent.pywsgi import WSGIServer  # noqa: E402

from twestival import create_app  # noqa: E402
from twestival.extensions import socketio  # noqa: E402


def main(url: str, ping_interval: float, ping_timeout: float) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                      "SCHEDULER": "off"})
    socketio.server.eio.ping_interval = ping_interval   # engine.io's defaults: 25 s and 20 s
    socketio.server.eio.ping_timeout = ping_timeout
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))
