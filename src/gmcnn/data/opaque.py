"""The largest fully opaque rectangle of an image with transparency (for photo cut-outs such as Tux Paint stamps).

A stamp is a photograph of an object on a transparent background; only pixels with alpha 255 are real photo
pixels, so the corpus uses one axis-aligned rectangle inside them. The rectangle is found once, when the
manifest is curated, and recorded there (``crop = x,y,w,h``), so the build does not depend on this search.
"""

from __future__ import annotations

import numpy as np


def largest_opaque_rect(alpha: np.ndarray, *, square_bias: float = 4.0) -> tuple[int, int, int, int]:
    """The best all-opaque axis-aligned rectangle ``(x, y, w, h)`` of an alpha channel.

    "Best" maximises ``square_bias * min(w, h) ** 2 + w * h``: the area, with a bonus for the short side,
    because a 3000 x 20 sliver is useless for square training crops. The search is the classic histogram
    stack over rows (O(H*W)).

    Args:
        alpha: ``(H, W)`` alpha values; only 255 counts as opaque.
        square_bias: weight of the squared short side against the area.

    Returns:
        ``(x, y, w, h)``; ``(0, 0, 0, 0)`` when no pixel is opaque.
    """
    ok = np.asarray(alpha) == 255
    height, width = ok.shape
    heights = np.zeros(width, dtype=np.int64)
    best_score, best = 0.0, (0, 0, 0, 0)
    for y in range(height):
        heights = np.where(ok[y], heights + 1, 0)
        stack: list[tuple[int, int]] = []  # (start column, height), heights increasing
        for x, h in enumerate([*heights.tolist(), 0]):
            start = x
            while stack and stack[-1][1] >= h:
                s, hs = stack.pop()
                w = x - s
                score = square_bias * min(w, hs) ** 2 + w * hs
                if hs and score > best_score:
                    best_score, best = score, (s, y - hs + 1, w, hs)
                start = s
            stack.append((start, h))
    return best
