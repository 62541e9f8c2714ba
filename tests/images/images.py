"""Real image bytes made by Pillow for the tests: PNG, JPEG, WebP and GIF of a seeded picture."""

from __future__ import annotations

import io
import random

from PIL import Image


def image_bytes(fmt: str, seed: int = 0, size: tuple[int, int] = (24, 16)) -> bytes:
    """A small picture of seeded random pixels in ``fmt`` (PNG, JPEG, WEBP, GIF)."""
    rng = random.Random(f"{fmt}:{seed}")
    picture = Image.new("RGB", size)
    picture.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                     for _ in range(size[0] * size[1])])
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()
