"""Share cards: a city's live figure as a 1200×630 PNG for Open Graph and Twitter.

Link previews fetch the image whenever a link is shared, so each card is kept and drawn
again at most every CARD_SECONDS: a popular link costs one drawing a minute.
"""
from __future__ import annotations

import functools
import io
import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CARD_SECONDS = 60.0
SIZE = (1200, 630)
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/TTF", "/usr/share/fonts/dejavu")

_cache: dict[tuple, tuple[float, bytes]] = {}
_lock = threading.Lock()


@functools.cache
def _font(size: int, bold: bool = False):
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for folder in FONT_DIRS:
        path = Path(folder) / name
        if path.exists():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def draw(title: str, raised: str, target_line: str, share_bp: int) -> bytes:
    image = Image.new("RGB", SIZE, "#0b1220")
    pen = ImageDraw.Draw(image)
    pen.text((70, 60), "twestival", font=_font(40, bold=True), fill="#5ef0b5")
    pen.text((70, 140), title, font=_font(64, bold=True), fill="#f3f6fa")
    pen.text((70, 250), raised, font=_font(120, bold=True), fill="#5ef0b5")
    pen.text((70, 400), target_line, font=_font(44), fill="#9fb3c8")
    left, top, right, bottom = 70, 490, SIZE[0] - 70, 540
    pen.rounded_rectangle((left, top, right, bottom), radius=25, fill="#1d2a3d")
    filled = left + (right - left) * min(10_000, max(0, share_bp)) // 10_000
    if filled > left + 50:
        pen.rounded_rectangle((left, top, filled, bottom), radius=25, fill="#15a575")
    out = io.BytesIO()
    # Not optimize=True: 5 % smaller, but three times the time (45 ms against 14).
    image.save(out, "PNG", compress_level=6)
    return out.getvalue()


def cached(key: tuple, make) -> bytes:
    """The card for ``key``; ``make()`` draws it when there is none younger than a minute."""
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < CARD_SECONDS:
        return hit[1]
    png = make()
    with _lock:
        _cache[key] = (now, png)
    return png
