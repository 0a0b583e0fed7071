"""Imported files in the archive: kept in pieces, read back whole, and never processed when
their archiving stopped part-way."""
from __future__ import annotations

import hashlib
import io

import pytest
from sqlalchemy import func, select

from twestival.streams.files import run as importing
from twestival.streams.inbox import files as filearchive
from twestival.streams.inbox.archive import InboundPayload
from twestival.streams.inbox.files import IncompleteArchive, InboundFilePiece

from tests.imports_helpers import ledger_count, run_import
from .test_imports_large import eventbrite_rows, write

PIECE = 4 * 1024


class BrokenUpload(io.BytesIO):
    """An upload whose reading fails after ``good`` bytes (a dropped connection, a bad disk)."""

    def __init__(self, data: bytes, good: int):
        super().__init__(data)
        self.good = good

    def read(self, size=-1):
        if self.tell() >= self.good:
            raise OSError("connection reset while reading the upload")
        return super().read(size if size >= 0 else self.good - self.tell())


def pieces(session, payload_id):
    return session.scalars(select(InboundFilePiece.data).where(
        InboundFilePiece.payload_id == payload_id).order_by(InboundFilePiece.seq)).all()


def test_a_file_is_kept_in_pieces_outside_its_payload_row(app, session, seed, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr(filearchive, "PIECE", PIECE)
    monkeypatch.setattr(filearchive, "CHUNK", 1000)
    path = write(tmp_path / "orders.csv", list(eventbrite_rows(1, 300)))
    data = path.read_bytes()
    assert len(data) > 3 * PIECE and len(data) < filearchive.COMPRESS_FROM
    report = run_import(app, path, "eventbrite", city="london")
    payload = session.get(InboundPayload, report.payload_id)
    assert (payload.status, payload.body, payload.headers) == ("processed", b"", {})
    digest = hashlib.sha256(data).hexdigest()
    assert (payload.sha256, payload.external_id) == (digest, f"sha256:{digest}")
    kept = pieces(session, payload.id)
    assert [len(piece) for piece in kept[:-1]] == [PIECE] * (len(kept) - 1)
    assert b"".join(kept) == data
    assert importing.archived_file(payload).read() == data


def test_a_file_whose_archiving_stopped_part_way_is_never_processed_or_replayed(
        app, session, seed, tmp_path, runner, monkeypatch):
    from twestival.campaigns.service import get_campaign, get_city
    monkeypatch.setattr(filearchive, "PIECE", PIECE)
    monkeypatch.setattr(filearchive, "CHUNK", 1000)
    path = write(tmp_path / "orders.csv", list(eventbrite_rows(1, 300)))
    data = path.read_bytes()
    camp = get_campaign(session, "tw")
    with pytest.raises(OSError, match="connection reset"):
        importing.import_file(session, camp, BrokenUpload(data, len(data) // 2), "eventbrite",
                              city=get_city(session, camp, "london"), filename="orders.csv")
    session.expire_all()
    payload = session.scalar(select(InboundPayload))
    assert (payload.status, payload.sha256, payload.external_id) == ("receiving", "", None)
    assert "connection reset" in payload.error
    assert 0 < sum(map(len, pieces(session, payload.id))) < len(data)
    assert ledger_count(session) == 0
    with pytest.raises(IncompleteArchive, match="incomplete"):
        importing.archived_file(payload)
    session.rollback()

    result = runner.invoke(args=["replay", "tw"])
    assert result.exit_code == 0, result.output
    assert "payloads replayed: 0" in result.output
    assert "incomplete files skipped (import them again): 1" in result.output
    assert f"payload {payload.id} (ticketing) skipped" in result.stderr
    assert "not archived whole" in result.stderr
    session.expire_all()
    assert session.get(InboundPayload, payload.id).status == "receiving"
    assert ledger_count(session) == 0

    # The same file, uploaded whole, is archived anew and counted.
    report = run_import(app, path, "eventbrite", city="london")
    assert report.imported == 300 and report.payload_id != payload.id
    assert session.scalar(select(func.count()).select_from(InboundPayload)) == 2


def test_a_downgrade_puts_the_pieces_back_and_old_bodies_still_read(app, session, seed,
                                                                       tmp_path, monkeypatch):
    """Downgrading 0008 keeps every archived file (in its payload's body, where files were
    kept before pieces); after upgrading again such a file still reads and replays."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import inspect, text
    monkeypatch.setattr(filearchive, "PIECE", PIECE)
    path = write(tmp_path / "orders.csv", list(eventbrite_rows(1, 300)))
    report = run_import(app, path, "eventbrite", city="london")
    session.close()
    downgrade(revision="0007_fee_fx")
    assert "inbound_file_piece" not in inspect(session.get_bind()).get_table_names()
    assert session.scalar(text("SELECT body FROM inbound_payload WHERE id = :id"),
                          {"id": report.payload_id}) == path.read_bytes()
    session.close()
    upgrade()
    payload = session.get(InboundPayload, report.payload_id)
    assert pieces(session, payload.id) == []
    assert importing.archived_file(payload).read() == path.read_bytes()
    session.close()
    again = importing.process(session, session.get(InboundPayload, report.payload_id))
    assert (again.rows, again.imported, again.duplicates) == (report.rows, 0, report.imported)
