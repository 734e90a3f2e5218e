"""Where the network runs: the crop strategy, hole boxes and context windows, as a plan computed up front.

:func:`plan_fill` turns the region a fill may change (the grown hole plus its feather band) and the fill
options into a :class:`FillPlan`: the strategy actually used (``"auto"`` resolved), the windows, and the
longest side each window is scaled to. The pipeline runs that plan; the web page asks the server for the
same plan (``Inpainter.plan``) instead of recomputing these rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmcnn.errors import FullMask
from gmcnn.inpainting import image as P


@dataclass(frozen=True)
class Box:
    """A window ``[top, top + height) x [left, left + width)`` in pixel coordinates."""

    top: int
    left: int
    height: int
    width: int

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def right(self) -> int:
        return self.left + self.width

    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def overlaps(self, other: Box) -> bool:
        return not (
            self.right <= other.left or other.right <= self.left or self.bottom <= other.top or other.bottom <= self.top
        )

    def union(self, other: Box) -> Box:
        top, left = min(self.top, other.top), min(self.left, other.left)
        return Box(top, left, max(self.bottom, other.bottom) - top, max(self.right, other.right) - left)


def hole_boxes(mask: np.ndarray, *, cell: int = 8) -> list[Box]:
    """Bounding boxes of the hole's connected parts (8-connected on a ``cell``-px grid, so near pieces join)."""
    h, w = mask.shape
    gh, gw = math.ceil(h / cell), math.ceil(w / cell)
    padded = np.zeros((gh * cell, gw * cell), dtype=bool)
    padded[:h, :w] = mask
    grid: np.ndarray = np.asarray(padded.reshape(gh, cell, gw, cell).any(axis=(1, 3)))
    labels = np.zeros(grid.shape, dtype=np.int32)
    boxes: list[Box] = []
    for start in zip(*(a.tolist() for a in np.nonzero(grid)), strict=True):
        if labels[start]:
            continue
        labels[start] = len(boxes) + 1
        stack, ys, xs = [start], [start[0]], [start[1]]
        while stack:
            y, x = stack.pop()
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < gh and 0 <= nx < gw and grid[ny, nx] and not labels[ny, nx]:
                        labels[ny, nx] = labels[start]
                        stack.append((ny, nx))
                        ys.append(ny)
                        xs.append(nx)
        top, left = min(ys) * cell, min(xs) * cell
        bottom, right = min(h, (max(ys) + 1) * cell), min(w, (max(xs) + 1) * cell)
        # Tighten to the real pixels (the grid rounds outwards).
        sub = mask[top:bottom, left:right]
        rows, cols = np.nonzero(sub.any(axis=1))[0], np.nonzero(sub.any(axis=0))[0]
        boxes.append(Box(top + rows[0], left + cols[0], rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    return boxes


def context_windows(mask: np.ndarray, *, margin: float, min_margin: int, min_side: int) -> list[Box]:
    """Windows around each hole with context on every side, merged while they overlap, clipped to the image.

    Args:
        mask: bool ``HxW``, True = hole.
        margin: context on each side as a fraction of the hole box's longer side.
        min_margin: at least this many pixels of context on each side.
        min_side: windows are grown to at least this side (the scale the model saw in training).
    """
    h, w = mask.shape
    windows = []
    for b in hole_boxes(mask):
        m = max(min_margin, int(round(margin * max(b.height, b.width))))
        side_h, side_w = max(b.height + 2 * m, min_side), max(b.width + 2 * m, min_side)
        windows.append(_centered(b, side_h, side_w, h, w))
    merged = True
    while merged:  # merge until no two windows overlap (a hole is always filled with all its context)
        merged = False
        for i in range(len(windows)):
            for j in range(i + 1, len(windows)):
                if windows[i].overlaps(windows[j]):
                    windows[i] = windows[i].union(windows.pop(j))
                    merged = True
                    break
            if merged:
                break
    return windows


def _centered(b: Box, side_h: int, side_w: int, h: int, w: int) -> Box:
    side_h, side_w = min(side_h, h), min(side_w, w)
    top = min(max(0, b.top + b.height // 2 - side_h // 2), h - side_h)
    left = min(max(0, b.left + b.width // 2 - side_w // 2), w - side_w)
    return Box(top, left, side_h, side_w)


@dataclass(frozen=True)
class FillPlan:
    """What a fill will do.

    Attributes:
        strategy: the concrete strategy (``"original"``, ``"resize"`` or ``"crop"``; ``"none"`` for an empty mask).
        windows: the windows the network runs on, in image pixels.
        process_size: the option's value (longest side a window is scaled down to).
        scale_to: longest side each window is scaled down to, or ``None`` (``"original"``: full resolution).
    """

    strategy: str
    windows: tuple[Box, ...]
    process_size: int
    scale_to: int | None

    def window_size(self, box: Box) -> tuple[int, int]:
        """(height, width) the network sees for ``box`` before padding (never upscaled)."""
        scale = min(1.0, self.scale_to / max(box.height, box.width)) if self.scale_to else 1.0
        return max(1, round(box.height * scale)), max(1, round(box.width * scale))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: windows as ``{top, left, height, width, scaled_height, scaled_width}``."""
        return {
            "strategy": self.strategy,
            "process_size": self.process_size,
            "scale_to": self.scale_to,
            "windows": [
                {"top": b.top, "left": b.left, "height": b.height, "width": b.width,
                 "scaled_height": self.window_size(b)[0], "scaled_width": self.window_size(b)[1]}
                for b in self.windows
            ],
        }  # fmt: skip


def fill_regions(user: P.UserImage, mask: Any, *, grow: int, feather: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a fill writes: the bool hole grown by ``grow`` px, and the float32 blend weight (1 in the hole,
    falling off over ``feather`` px outside it, 0 elsewhere).

    Raises:
        UserError: the mask does not fit the image; :class:`~gmcnn.errors.FullMask` when it covers all of it.
    """
    hole = P.normalize_mask(mask, user.size)
    hole = P.grow_mask(hole, grow) if grow else hole
    if hole.all():
        grown = f" after growing it by {grow} px" if grow else ""
        raise FullMask(
            f"the mask covers the whole image{grown}: there is nothing left to fill from; "
            "paint only what should be replaced"
        )
    weight = P.feather_weights(hole, feather) if feather else hole.astype(np.float32)
    return hole, weight


def plan_fill(region: np.ndarray, *, strategy: str, process_size: int, margin: float, min_side: int) -> FillPlan:
    """Resolve the strategy and place the windows.

    Args:
        region: bool ``HxW``, True where the fill may change pixels (the grown hole and its feather band).
        strategy: ``"auto"``, ``"original"``, ``"resize"`` or ``"crop"`` (see ``FillOptions``).
        process_size: longest side a window is scaled down to for ``"resize"`` / ``"crop"``.
        margin: context around each hole for ``"crop"``, as a fraction of the hole's longer side.
        min_side: crop windows grow to at least this side (the scale the model was trained at).
    """
    h, w = region.shape
    if not region.any():
        return FillPlan("none", (), process_size, None)
    if strategy == "auto":
        strategy = "original" if max(h, w) <= process_size else "crop"
    if strategy == "original":
        return FillPlan(strategy, (Box(0, 0, h, w),), process_size, None)
    if strategy == "resize":
        return FillPlan(strategy, (Box(0, 0, h, w),), process_size, process_size)
    # Windows must cover the feather band too: every pixel with a weight may change.
    windows = context_windows(region, margin=margin, min_margin=32, min_side=min_side)
    return FillPlan(strategy, tuple(windows), process_size, process_size)
