"""``twestival backup`` while gifts arrive: how long the copy takes, and what a writer
committing one gift at a time sees meanwhile (commit latency before and during the copy).

    python -m bench.backup [--entries 200000]
"""
from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path

from . import common


def measure(workdir: Path, entries: int) -> dict:
    from twestival import create_app
    from twestival.backup import backup_sqlite
    from twestival.campaigns.models import City
    from twestival.extensions import db
    from twestival.ledger import NewEntry, record
    from twestival.ledger.bulk import record_many
    from twestival.money import Money

    path = workdir / "bench.db"
    common.prepare_database(f"sqlite:///{path}")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench",
                      "SCHEDULER": "off"})
    with app.app_context():
        city = db.session.query(City).filter_by(slug="london").one()
        campaign_id, city_id = city.campaign_id, city.id
        for start in range(0, entries, 5000):
            record_many(db.session, [
                NewEntry(campaign_id, city_id, "bench", f"seed-{n}",
                         Money(1000 + n % 50, "GBP"), donor_name=f"Donor {n}")
                for n in range(start, min(entries, start + 5000))])
            db.session.commit()

    latencies: dict[str, list[float]] = {"before": [], "during": [], "after": []}
    phase = ["before"]
    stop = threading.Event()

    def writer():
        n = 0
        with app.app_context():
            while not stop.is_set():
                n += 1
                started = time.perf_counter()
                record(db.session, NewEntry(campaign_id, city_id, "bench", f"live-{n}",
                                            Money(500, "GBP")))
                db.session.commit()
                latencies[phase[0]].append((time.perf_counter() - started) * 1000)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(2)
    phase[0] = "during"
    done = backup_sqlite(path, workdir / "copy.db")
    phase[0] = "after"
    time.sleep(1)
    stop.set()
    thread.join()
    app.extensions["twestival.live"].stop()

    def stats(values):
        return {"commits": len(values), "p50_ms": round(common.percentile(values, 50), 2),
                "p99_ms": round(common.percentile(values, 99), 2),
                "max_ms": round(max(values), 2) if values else None}

    return {"entries": entries, "database_mib": round(done.bytes / 2**20, 1),
            "backup_seconds": round(done.seconds, 2),
            "writer_before": stats(latencies["before"]),
            "writer_during": stats(latencies["during"]),
            "writer_after": stats(latencies["after"])}


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(measure(Path(tmp), args.entries), indent=2))
