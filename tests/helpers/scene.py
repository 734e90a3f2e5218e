"""A test picture with one clear object: a red ellipse on grainy green, and the ellipse's own mask."""

from __future__ import annotations

import numpy as np


def object_scene(h: int = 144, w: int = 192, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``h x w x 3`` picture and bool ``h x w`` object mask (the ellipse, about a third of the width)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    obj = ((yy - h / 2) / (0.24 * h)) ** 2 + ((xx - 0.55 * w) / (0.22 * w)) ** 2 < 1
    picture = rng.normal((110, 150, 100), 22, (h, w, 3))
    picture[obj] = rng.normal((205, 60, 50), 14, (int(obj.sum()), 3))
    return np.clip(picture, 0, 255).astype(np.uint8), obj


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))
