"""Shared set-up for the import tests: bank references, counting the ledger."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

FIXTURES = Path(__file__).parent / "fixtures"


def set_bank_references(app, campaign="tw", **refs):
    from twestival.campaigns.service import get_campaign, get_city
    from twestival.extensions import db
    import contextlib

    from flask import has_app_context
    with contextlib.nullcontext() if has_app_context() else app.app_context():
        camp = get_campaign(db.session, campaign)
        for slug, ref in refs.items():
            get_city(db.session, camp, slug).bank_reference = ref
        db.session.commit()


def ledger_count(session) -> int:
    from twestival.ledger import LedgerEntry
    return session.scalar(select(func.count()).select_from(LedgerEntry))


def run_import(app, path, fmt, *, city=None, mapping=None, body=None, currency=None):
    """Import through the domain function the CLI and the web both call (in the test's own
    app context when it has one, so its session sees the result)."""
    import contextlib

    from flask import has_app_context

    from twestival.campaigns.service import get_campaign, get_city
    from twestival.extensions import db
    from twestival.streams.files.run import import_file
    with contextlib.nullcontext() if has_app_context() else app.app_context():
        camp = get_campaign(db.session, "tw")
        place = get_city(db.session, camp, city) if city else None
        data = body if body is not None else Path(path).read_bytes()
        return import_file(db.session, camp, data, fmt, city=place, mapping_name=mapping,
                           filename=Path(path).name if path else "upload", currency=currency)
