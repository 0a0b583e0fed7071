"""py-spy on a running app worker: where its time goes, as the share of samples per frame."""
from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import threading
from pathlib import Path


def py_spy() -> str | None:
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


def record_later(pid: int, delay: float, seconds: float, out: Path) -> threading.Thread | None:
    """Start ``py-spy record`` on ``pid`` after ``delay`` seconds, in the background."""
    binary = py_spy()
    if binary is None:
        return None

    def run():
        import time
        time.sleep(delay)
        subprocess.run([binary, "record", "-p", str(pid), "-d", str(int(seconds)), "-f", "raw",
                        "-o", str(out), "--nonblocking"], capture_output=True)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def summary(raw: Path, top: int = 12) -> list[tuple[float, str]]:
    """Inclusive share of samples of our own frames and of the big library layers."""
    if not raw.exists():
        return []
    total, inclusive = 0, collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():   # a frame's text broken over lines: not a sample line
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame] += int(count)
    keep = [(n / total, f) for f, n in inclusive.items()
            if "twestival/" in f or any(k in f for k in (
                "Session.commit", "Session._execute_internal", "SocketMixin.send",
                "flask/app.py", "engineio/middleware"))]
    return sorted(keep, reverse=True)[:top]
