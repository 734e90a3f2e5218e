"""Training masks: paper rectangles, free-form strokes, irregular masks by coverage, and a mix of them.

Every generator is a small frozen dataclass called as ``generator(height, width, rng)`` with an explicit
``np.random.Generator``; it returns ``(mask, bbox)``:

* ``mask``: ``bool`` array ``(height, width)``, **True = hole**;
* ``bbox``: ``(top, left, box_height, box_width)`` in pixels — for :class:`RectMask` the fixed-size box the hole
  was placed in (what the local critic and ID-MRF crop, 128x128 at 256x256 as in the paper), for the others the
  tight bounding box of the hole.

The same rng state gives the same mask. Sizes in the official parameters are pixels at 256x256; they scale with
``min(height, width) / 256`` so a mask drawn at 512x512 looks like the same mask drawn at 256x256.

Compared with the official free-form generator this one draws a mask per sample (not one per batch), passes
``(x, y)`` to OpenCV in the right order, fills every joint with a disc of the brush width (not a 1-px circle), and
draws 8-10 parts (a 2021 upstream change silently reduced it to 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

Bbox = tuple[int, int, int, int]  # (top, left, height, width)
MaskGenerator = Callable[[int, int, np.random.Generator], tuple[np.ndarray, Bbox]]

REFERENCE_SIZE = 256  # the official parameters are pixels at 256x256


def tight_bbox(mask: np.ndarray) -> Bbox:
    """Bounding box ``(top, left, height, width)`` of the True pixels; the whole image when there are none."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, 0, mask.shape[0], mask.shape[1]
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


@dataclass(frozen=True)
class RectMask:
    """The paper's rectangle: a box of ``box_fraction`` of the image (128 of 256) at a random place, with the hole
    shrunk by 0..``max_shrink`` px (16 at 256, scaled with the size) on each side independently (TF training).

    Attributes:
        box_fraction: box side as a fraction of the image side.
        max_shrink: largest shrink per side, in pixels at 256x256.
    """

    box_fraction: float = 0.5
    max_shrink: int = 16

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, Bbox]:
        bh = max(1, round(height * self.box_fraction))
        bw = max(1, round(width * self.box_fraction))
        top = int(rng.integers(0, height - bh + 1))
        left = int(rng.integers(0, width - bw + 1))
        # Shrink each side independently; never below a 1-px hole.
        shrink_h = min(round(self.max_shrink * height / REFERENCE_SIZE), (bh - 1) // 2)
        shrink_w = min(round(self.max_shrink * width / REFERENCE_SIZE), (bw - 1) // 2)
        st, sb = rng.integers(0, shrink_h + 1, size=2)
        sl, sr = rng.integers(0, shrink_w + 1, size=2)
        mask = np.zeros((height, width), dtype=bool)
        mask[top + st : top + bh - sb, left + sl : left + bw - sr] = True
        return mask, (top, left, bh, bw)


class StrokeShape(Protocol):
    """Polyline parameters shared by the stroke-based generators (pixels at 256x256)."""

    @property
    def max_vertices(self) -> int: ...
    @property
    def max_length(self) -> float: ...
    @property
    def brush(self) -> tuple[float, float]: ...


def _draw_stroke(
    canvas: np.ndarray,
    rng: np.random.Generator,
    shape: StrokeShape,
    *,
    scale: float,
    after_segment: Callable[[], bool] | None = None,
) -> None:
    """Draw one random polyline part on ``canvas`` (uint8, 255 = hole) with round joints, in place.

    Lengths and brush widths are ``shape``'s times ``scale``. ``after_segment`` is called after every segment;
    returning True stops the part early (coverage targets).
    """
    h, w = canvas.shape
    max_length = shape.max_length * scale
    x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
    width = max(1, round(rng.uniform(shape.brush[0] * scale, shape.brush[1] * scale)))
    radius = max(1, width // 2)
    cv2.circle(canvas, (round(x), round(y)), radius, 255, thickness=-1)
    for _ in range(int(rng.integers(1, shape.max_vertices + 1))):
        angle = rng.uniform(0.0, 2.0 * math.pi)
        length = rng.uniform(1.0, max_length)
        nx = float(np.clip(x + length * math.cos(angle), 0, w - 1))
        ny = float(np.clip(y + length * math.sin(angle), 0, h - 1))
        # OpenCV points are (x=column, y=row); the official code swapped them.
        cv2.line(canvas, (round(x), round(y)), (round(nx), round(ny)), 255, thickness=width)
        # A filled disc of the brush width at every joint, so turns have no notches.
        cv2.circle(canvas, (round(nx), round(ny)), radius, 255, thickness=-1)
        x, y = nx, ny
        if after_segment is not None and after_segment():
            return


@dataclass(frozen=True)
class StrokeMask:
    """Free-form strokes with the official parameters (pixels at 256x256, scaled with the image size).

    Attributes:
        parts: inclusive range of the number of polylines.
        max_vertices: most vertices per polyline.
        max_length: longest segment.
        brush: range of brush widths.
    """

    parts: tuple[int, int] = (8, 10)
    max_vertices: int = 20
    max_length: float = 100.0
    brush: tuple[float, float] = (10.0, 24.0)

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, Bbox]:
        scale = min(height, width) / REFERENCE_SIZE
        canvas = np.zeros((height, width), dtype=np.uint8)
        for _ in range(int(rng.integers(self.parts[0], self.parts[1] + 1))):
            _draw_stroke(canvas, rng, self, scale=scale)
        mask = canvas > 0
        return mask, tight_bbox(mask)


# Coverage bins of the NVIDIA irregular-mask benchmark (Liu et al. 2018): hole area as a fraction of the image.
DEFAULT_COVERAGE_BINS: tuple[tuple[float, float], ...] = (
    (0.01, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5), (0.5, 0.6),
)  # fmt: skip


@dataclass(frozen=True)
class IrregularMask:
    """Random-walk strokes drawn until the hole covers a fraction inside a randomly chosen coverage bin.

    Segments are added one at a time and drawing stops as soon as the coverage reaches the bin's lower end, so
    the result overshoots by at most one segment; the (rare) masks that overshoot the upper end are redrawn.

    Attributes:
        bins: ``(low, high)`` coverage ranges; one is picked uniformly per mask.
        max_vertices: most vertices per polyline.
        max_length: longest segment, pixels at 256x256.
        brush: range of brush widths, pixels at 256x256.
    """

    bins: tuple[tuple[float, float], ...] = DEFAULT_COVERAGE_BINS
    max_vertices: int = 12
    max_length: float = 60.0
    brush: tuple[float, float] = (8.0, 30.0)

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, Bbox]:
        low, high = self.bins[int(rng.integers(len(self.bins)))]
        scale = min(height, width) / REFERENCE_SIZE
        target = max(low * height * width, 1)
        for _attempt in range(8):
            canvas = np.zeros((height, width), dtype=np.uint8)

            def reached(canvas: np.ndarray = canvas) -> bool:
                return bool(np.count_nonzero(canvas) >= target)

            while not reached():
                _draw_stroke(canvas, rng, self, scale=scale, after_segment=reached)
            if np.count_nonzero(canvas) <= high * height * width:
                break
        mask = canvas > 0
        return mask, tight_bbox(mask)


@dataclass(frozen=True)
class MixedMask:
    """Pick one of several generators per mask, with the given probabilities (normalised).

    Attributes:
        generators: the candidates.
        weights: relative probabilities, one per generator.
    """

    generators: tuple[MaskGenerator, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.generators) != len(self.weights) or not self.generators:
            raise ValueError("MixedMask needs one weight per generator and at least one generator")
        if min(self.weights) < 0 or sum(self.weights) <= 0:
            raise ValueError(f"MixedMask weights must be >= 0 with a positive sum, got {self.weights}")

    def __call__(self, height: int, width: int, rng: np.random.Generator) -> tuple[np.ndarray, Bbox]:
        p = np.asarray(self.weights, dtype=np.float64)
        choice = int(rng.choice(len(self.generators), p=p / p.sum()))
        return self.generators[choice](height, width, rng)


# Names usable as the training config's ``mask_type``. A registry, not an if-chain.
MASK_TYPES: dict[str, Callable[[], MaskGenerator]] = {
    "rect": RectMask,
    "stroke": StrokeMask,
    "irregular": IrregularMask,
    # Rectangles (the paper's benchmark) plus both free-form kinds, so one model handles what users draw. The
    # strokes use 1-6 parts instead of 8-10: with 8-10 parts the median hole is ~57 % of the image, too much to
    # be the only free-form kind a small model sees; the irregular bins cover 1-60 % evenly.
    "mixed": lambda: MixedMask((RectMask(), StrokeMask(parts=(1, 6)), IrregularMask()), (0.4, 0.3, 0.3)),
}


def build_mask(name: str) -> MaskGenerator:
    """The mask generator registered as ``name`` (see :data:`MASK_TYPES`)."""
    try:
        return MASK_TYPES[name]()
    except KeyError:
        raise ValueError(f"unknown mask type {name!r}; valid types are {sorted(MASK_TYPES)}") from None


__all__ = [
    "MASK_TYPES",
    "Bbox",
    "IrregularMask",
    "MaskGenerator",
    "MixedMask",
    "RectMask",
    "StrokeMask",
    "build_mask",
    "tight_bbox",
]
