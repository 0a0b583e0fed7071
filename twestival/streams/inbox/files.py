"""Imported files in the inbound archive: their bytes in pieces, in a table never updated.

A file's ``inbound_payload`` row holds no body (an empty one), only what it is and how its
processing went; the bytes are ``inbound_file_piece`` rows of ``PIECE`` bytes, each inserted
in a transaction of its own. So no transaction holds SQLite's one write lock for longer than
one piece takes (a webhook waits behind a few milliseconds, not the 150-200 ms a 15 MB row
took), and marking the file processed rewrites a small row, not the file.

While the pieces go in, the payload's status is ``receiving`` and its sha256 is empty; it
becomes ``received``, with the sha256 and ``sha256:`` external id, in the transaction of the
last piece. A payload left ``receiving`` (a crash part-way) is never read as a file:
``archived_file`` refuses it and ``replay`` skips it, saying so.

Files archived before pieces existed keep their bytes in ``inbound_payload.body`` and are read
from there (a file in pieces has an empty body; an empty file is refused).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from typing import BinaryIO

from sqlalchemy import ForeignKey, LargeBinary, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from ...errors import DomainError, InvalidInput
from ...languages import N_
from ...storage import writelock
from ...storage.database import Base, utcnow
from .archive import RECEIVING, InboundPayload

CHUNK = 1 << 20
PIECE = 1 << 20
# Above this a file is kept gzip-compressed (level 1: fast, about a tenth of a CSV's size), so
# a 120 MB export is a dozen pieces to write and to keep, not 120.
COMPRESS_FROM = 8 << 20


class InboundFilePiece(Base):
    """``PIECE`` bytes of an archived file (gzip-compressed when the payload says so), in
    order of ``seq`` from 0. Inserted once, never updated."""
    __tablename__ = "inbound_file_piece"

    payload_id: Mapped[int] = mapped_column(ForeignKey("inbound_payload.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class IncompleteArchive(DomainError):
    """The file's pieces did not all arrive: it cannot be read, only imported again."""


_payloads = InboundPayload.__table__
_pieces = InboundFilePiece.__table__
_PUT = insert(_pieces)


def archive_file(session: Session, stream: str, source: BinaryIO, *, campaign_id: int,
                 meta: dict) -> int:
    """Archive a file that may be large, read from ``source`` in chunks; the payload's id.

    Commits as it goes: the payload row (with anything the caller's transaction holds), then
    one transaction per piece, the last one also marking the payload ``received``. Should this
    stop part-way, the payload stays ``receiving`` (with the reason when there is one).
    """
    source.seek(0, io.SEEK_END)
    size = source.tell()
    source.seek(0)
    if size == 0:
        raise InvalidInput(N_("the file is empty"))
    packer = (zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)   # gzip framing
              if size >= COMPRESS_FROM else None)
    payload_id = session.execute(insert(_payloads).returning(_payloads.c.id), dict(
        stream=stream, body=b"", sha256="", external_id=None, campaign_id=campaign_id,
        headers={"Content-Encoding": "gzip"} if packer else {}, content_type=None, meta=meta,
        received_at=utcnow(), status=RECEIVING, error=None, processed_at=None)).scalar_one()
    session.commit()
    turns = writelock.Turns.of(session.get_bind())
    try:
        digest, pending, seq = hashlib.sha256(), bytearray(), 0

        def put_whole_pieces() -> None:
            nonlocal seq
            while len(pending) >= PIECE:
                session.execute(_PUT, dict(payload_id=payload_id, seq=seq,
                                           data=bytes(pending[:PIECE])))
                del pending[:PIECE]
                seq += 1
                session.commit()
                turns.after_commit()

        while chunk := source.read(CHUNK):
            digest.update(chunk)
            pending += packer.compress(chunk) if packer else chunk
            put_whole_pieces()
        if packer:
            pending += packer.flush()
            put_whole_pieces()
        if pending:
            session.execute(_PUT, dict(payload_id=payload_id, seq=seq, data=bytes(pending)))
        sha256 = digest.hexdigest()
        session.execute(update(_payloads).where(_payloads.c.id == payload_id).values(
            status="received", sha256=sha256, external_id=f"sha256:{sha256}"))
        session.commit()
    except Exception as exc:
        session.rollback()
        try:
            session.execute(update(_payloads).where(_payloads.c.id == payload_id).values(
                error=f"archiving stopped part-way: {type(exc).__name__}: {exc}"[:2000]))
            session.commit()
        except Exception:   # the database may be what failed: the status says enough
            session.rollback()
        raise
    finally:
        source.seek(0)   # the parser reads the same handle next
    return payload_id


def archived_file(payload: InboundPayload) -> BinaryIO:
    """The file as it was received (read a piece at a time, decompressed as it is read)."""
    if payload.status == RECEIVING:
        raise IncompleteArchive(
            f"archived file {payload.id} is incomplete (still arriving, or its upload stopped "
            "part-way), so it cannot be read; import the file again")
    if payload.body:
        raw: BinaryIO = io.BytesIO(payload.body)
    else:
        raw = io.BufferedReader(_Pieces(object_session(payload), payload.id), CHUNK)
    if (payload.headers or {}).get("Content-Encoding") == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


class _Pieces(io.RawIOBase):
    """A file's pieces in order, each fetched when the one before has been read."""

    def __init__(self, session: Session, payload_id: int):
        self._session, self._payload_id = session, payload_id
        self._seq, self._piece, self._at = 0, memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._at == len(self._piece):
            data = self._session.scalar(select(_pieces.c.data).where(
                _pieces.c.payload_id == self._payload_id, _pieces.c.seq == self._seq))
            if data is None:
                return 0
            self._seq, self._piece, self._at = self._seq + 1, memoryview(data), 0
        n = min(len(buffer), len(self._piece) - self._at)
        buffer[:n] = self._piece[self._at:self._at + n]
        self._at += n
        return n
