"""Smart select: snap a rough stroke, or a tap, to the outline of the object under it. No weights.

OpenCV's GrabCut does the work: it fits a colour model to the object (seeded by the stroke) and one to its
surroundings (the rest of a box around the stroke), then cuts along the strongest edges between them with a
graph cut, a few times over. OpenCV is optional: the ``web`` extra installs it, and :func:`available` says
whether it is there (the painter greys its Select tool out, with the reason, when it is not).

The stroke need not stay inside the object: only its core (the middle of the stroke, or the middle of a tap)
is taken as surely the object; the rest of it is only *probably* the object, so a stroke that spills over the
edge still snaps to the edge.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from gmcnn.errors import UserError

MAX_SIDE = 640  # GrabCut runs on the image scaled to at most this side: its cost grows with the pixels
ITERATIONS = 5  # GrabCut's rounds of colour model fit + graph cut (OpenCV's samples use 5)
SEARCH = 0.6  # the box searched around the stroke grows by this fraction of the stroke's longer side ...
SEARCH_MIN = 0.3  # ... and by at least this fraction of the image's longer side (a tap is small)
MISSING = "smart select needs OpenCV: python3 -m pip install 'gmcnn[web]' (it installs opencv-python-headless)"


@dataclass
class Selection:
    """What :func:`snap` found.

    Attributes:
        mask: bool ``H x W``, True on the object.
        snapped: False when no outline was found and ``mask`` is the stroke itself.
        seconds: time taken.
    """

    mask: np.ndarray
    snapped: bool
    seconds: float


def available() -> bool:
    """True when OpenCV (``cv2``) can be imported."""
    try:
        _cv2()
    except UserError:
        return False
    return True


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise UserError(MISSING) from None
    return cv2


def snap(image: np.ndarray, hint: np.ndarray, *, iterations: int = ITERATIONS) -> Selection:
    """The object a stroke or a tap marks.

    Args:
        image: uint8 ``H x W x 3`` RGB.
        hint: bool ``H x W``: the stroke over the object (roughly; it may spill over the edge) or a dot on it.
        iterations: GrabCut rounds.

    Returns:
        The :class:`Selection`: the parts of the cut that touch the stroke's core.

    Raises:
        UserError: no OpenCV, an empty hint, or a hint of another size than the image.
    """
    cv = _cv2()
    if hint.shape != image.shape[:2]:
        raise UserError(
            f"the stroke is {hint.shape[1]}x{hint.shape[0]} but the image is {image.shape[1]}x{image.shape[0]}"
        )
    if not hint.any():
        raise UserError("nothing to snap: draw a stroke over the object, or tap it")
    start = time.perf_counter()
    h, w = hint.shape
    scale = min(1.0, MAX_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv.resize(image, size, interpolation=cv.INTER_AREA) if scale < 1 else image
    stroke = cv.resize(hint.astype(np.uint8), size, interpolation=cv.INTER_NEAREST) > 0 if scale < 1 else hint
    if not stroke.any():  # a stroke thinner than a pixel at this scale: keep its brightest trace
        stroke = cv.resize(hint.astype(np.uint8) * 255, size, interpolation=cv.INTER_AREA) > 0
    core = _core(stroke)
    seeds = _seeds(stroke, core)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv.setRNGSeed(0)  # GrabCut's colour models start from k-means: the same stroke gives the same outline
    bgr = np.ascontiguousarray(small[..., ::-1])
    cv.grabCut(bgr, seeds, None, bgd, fgd, iterations, cv.GC_INIT_WITH_MASK)
    found = (seeds == cv.GC_FGD) | (seeds == cv.GC_PR_FGD)
    found = _touching(found, core)
    if not found.any():
        return Selection(hint.copy(), False, time.perf_counter() - start)
    if scale < 1:
        up = cv.resize(found.astype(np.uint8) * 255, (w, h), interpolation=cv.INTER_LINEAR)
        found = up >= 128
    return Selection(found, True, time.perf_counter() - start)


def _core(stroke: np.ndarray) -> np.ndarray:
    """The middle of the stroke: pixels at least half the stroke's own half-width from its edge."""
    cv = _cv2()
    dist = cv.distanceTransform(np.pad(stroke, 1).astype(np.uint8), cv.DIST_L2, 3)[1:-1, 1:-1]
    return dist >= max(1.0, 0.5 * float(dist.max()))


def _seeds(stroke: np.ndarray, core: np.ndarray) -> np.ndarray:
    """GrabCut's starting labels: surely background outside the search box, probably background inside it,
    probably the object on the stroke, surely the object on its core."""
    cv = _cv2()
    h, w = stroke.shape
    ys, xs = np.nonzero(stroke)
    reach = max(SEARCH * max(int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1), SEARCH_MIN * max(h, w))
    top, bottom = max(0, int(ys.min() - reach)), min(h, int(ys.max() + reach) + 1)
    left, right = max(0, int(xs.min() - reach)), min(w, int(xs.max() + reach) + 1)
    seeds = np.full((h, w), cv.GC_BGD, np.uint8)
    seeds[top:bottom, left:right] = cv.GC_PR_BGD
    seeds[stroke] = cv.GC_PR_FGD
    seeds[core] = cv.GC_FGD
    return seeds


def _touching(found: np.ndarray, core: np.ndarray) -> np.ndarray:
    """The connected parts of ``found`` that touch the stroke's core (not a similar patch elsewhere)."""
    cv = _cv2()
    count, labels = cv.connectedComponents(found.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[core & found])
    keep = keep[keep > 0]
    return np.isin(labels, keep) if count > 1 else found
