"""A consistent copy of the SQLite database while the app serves (SQLite's online backup API).

The database runs in WAL mode, where a reader never blocks a writer: the copy is taken in one
backup step, inside one read transaction, so it is one consistent moment of the database while
webhooks keep committing to the write-ahead log beside it. (Copying in several steps would not
stop anyone either, but SQLite restarts a stepped backup whenever another connection commits,
so under a steady stream of gifts it might never finish.) The copy is written beside the
target and renamed into place once it passed SQLite's integrity check, so a target that
exists is always a whole backup.
"""
from __future__ import annotations

import dataclasses
import os
import sqlite3
import time
from pathlib import Path

from .errors import InvalidInput


@dataclasses.dataclass(frozen=True)
class Backup:
    path: Path
    pages: int
    bytes: int
    seconds: float


def backup_sqlite(database: Path, target: Path) -> Backup:
    target = Path(target)
    if target.exists():
        raise InvalidInput(f"{target} exists: name a new file (a backup never overwrites one)")
    if not target.parent.is_dir():
        raise InvalidInput(f"{target.parent} is not a directory")
    partial = target.with_name(target.name + ".part")
    started = time.perf_counter()
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy)
        pages = copy.execute("PRAGMA page_count").fetchone()[0]
        checked = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if checked != "ok":   # pragma: no cover - a corrupt source
            raise InvalidInput(f"the copy fails SQLite's integrity check: {checked}")
        # The copy stands alone: its pages are all in the file, none in a WAL of its own.
        copy.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        copy.close()
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    copy.close()
    os.replace(partial, target)
    return Backup(target, pages, target.stat().st_size, time.perf_counter() - started)
