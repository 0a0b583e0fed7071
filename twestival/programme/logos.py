"""Sponsor logos: what an upload must be, and what we keep of it.

An upload is never served as it came. It must be a whole PNG, JPEG or WebP by its bytes (the
file name and the browser's content type say nothing), small, of sane dimensions, with nothing
hidden after the image or in it that a browser might read as a page; then Pillow decodes it and
writes a fresh file from the pixels alone, so metadata, comments, colour-profile tricks and
appended payloads are gone.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import struct
import warnings

from PIL import Image, ImageOps

MAX_BYTES = 2 * 1024 * 1024          # largest upload accepted
MAX_SOURCE_PIXELS = 25_000_000       # decoded size refused above this (decompression bombs)
MAX_SIDE = 10_000                    # any side longer is no logo
MIN_SIDE = 16
BOX = (1200, 600)                    # kept at most this size: plenty for a 4K screen's strip

# Why an upload was refused; the web layer words each for people, in their language.
TOO_BIG, EMPTY, NOT_IMAGE, TRAILING, MARKUP, DIMENSIONS, BROKEN = (
    "too_big", "empty", "not_image", "trailing", "markup", "dimensions", "broken")

# Markup a browser might find in the bytes when it sniffs (a polyglot image that is also a
# page). Random pixels practically never spell these.
_MARKUP = re.compile(rb"<\s*(?:script|html|body|svg|iframe|object|embed|\?php|!doctype)",
                     re.IGNORECASE)


class LogoRefused(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Logo:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32]

    @property
    def extension(self) -> str:
        return extension(self.content_type)


def extension(content_type: str) -> str:
    return {"image/png": "png", "image/jpeg": "jpg"}[content_type]


def _kind(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise LogoRefused(NOT_IMAGE)


def _png_end(data: bytes) -> int:
    """Where the PNG's IEND chunk ends: its chunks walked by their stated lengths."""
    at = 8
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        at += 12 + length
        if kind == b"IEND":
            return at
    raise LogoRefused(BROKEN)


def _whole(kind: str, data: bytes) -> None:
    """Refuse anything after the image's own end: the classic place for a second file."""
    if kind == "PNG":
        end = _png_end(data)
    elif kind == "WEBP":
        end = 8 + struct.unpack("<I", data[4:8])[0]
        end += end % 2   # RIFF pads odd chunks
        if end > len(data):
            raise LogoRefused(BROKEN)
    else:   # JPEG: an embedded thumbnail has its own end marker, so look from the end
        end = len(data.rstrip(b"\x00"))
        if data[end - 2:end] != b"\xff\xd9":
            raise LogoRefused(TRAILING)
    if data[end:].strip(b"\x00"):
        raise LogoRefused(TRAILING)


def clean(data: bytes) -> Logo:
    """The upload checked and re-encoded, or LogoRefused with the reason."""
    if not data:
        raise LogoRefused(EMPTY)
    if len(data) > MAX_BYTES:
        raise LogoRefused(TOO_BIG)
    kind = _kind(data)
    _whole(kind, data)
    if _MARKUP.search(data):
        raise LogoRefused(MARKUP)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=[kind]) as source:
                width, height = source.size
                if (width * height > MAX_SOURCE_PIXELS or max(width, height) > MAX_SIDE
                        or min(width, height) < MIN_SIDE):
                    raise LogoRefused(DIMENSIONS)
                source.load()
                if getattr(source, "n_frames", 1) > 1:
                    source.seek(0)   # an animated WebP: its first frame
                image = ImageOps.exif_transpose(source)
        except LogoRefused:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise LogoRefused(DIMENSIONS) from None
        except Exception:   # Pillow raises many kinds for a damaged file: all mean "broken"
            raise LogoRefused(BROKEN) from None
    return _encode(image, photo=kind == "JPEG")


def _encode(image: Image.Image, photo: bool) -> Logo:
    image.thumbnail(BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if photo:   # no transparency to keep: JPEG stays small
        image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
        content_type = "image/jpeg"
    else:
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        image.save(out, "PNG", optimize=True)
        content_type = "image/png"
    return Logo(out.getvalue(), content_type, image.width, image.height)
