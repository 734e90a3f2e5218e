"""What the benchmark fills: sizes from their text form, a photo-like test image and a fixed brush-stroke hole."""

from __future__ import annotations

from typing import Final

import numpy as np
from PIL import Image

from gmcnn.data.masks import StrokeMask
from gmcnn.errors import UserError

DEFAULT_SIZES: Final = "256,512,1024,12mp"

HOLE: Final = StrokeMask(parts=(1, 3), max_vertices=8)  # a user's few brush strokes; ~5-15 % of the image


def parse_sizes(text: str) -> list[tuple[str, int, int]]:
    """``"256,512,12mp,640x480"`` -> [(label, height, width)]; N = NxN, NNmp = 4:3 landscape, WxH as given."""
    out = []
    for token in (t.strip().lower() for t in text.split(",") if t.strip()):
        try:
            if token.endswith("mp"):
                mp = float(token[:-2])
                h = int(round((mp * 1e6 * 3 / 4) ** 0.5 / 4)) * 4
                w = h * 4 // 3 // 4 * 4
                out.append((f"{token.upper()} ({w}x{h})", h, w))
            elif "x" in token:
                w, h = (int(v) for v in token.split("x"))
                out.append((f"{w}x{h}", h, w))
            else:
                out.append((f"{int(token)}x{int(token)}", int(token), int(token)))
        except ValueError:
            raise UserError(f"bad size {token!r}: use N (square), WxH or Nmp (4:3), e.g. 256,512,1024,12mp") from None
    if not out or min(min(h, w) for _, h, w in out) < 16:
        raise UserError(f"sizes must be at least 16 px, got {text!r}")
    return out


def test_image(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth colour fields plus fine noise (content barely matters for speed)."""
    coarse = rng.integers(0, 256, size=(max(2, height // 64), max(2, width // 64), 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = rng.integers(-12, 13, size=(height, width, 1), dtype=np.int16)
    return np.clip(smooth + noise, 0, 255).astype(np.uint8)


def stroke_hole(height: int, width: int, seed: int) -> np.ndarray:
    """The benchmark's brush-stroke hole (bool, True = hole); the same strokes, scaled, at every size."""
    mask, _ = HOLE(height, width, np.random.default_rng(seed))
    return mask
