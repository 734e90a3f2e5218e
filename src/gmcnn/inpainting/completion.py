"""The completion stage: fill a hole with real texture of the photo (PatchMatch), as detailed as asked.

What the blind study chose (``gmcnn study``, 72 stratified validation cases, one reviewer who saw only the pair
pictures; ``MODEL_CARD.md`` has the tables): the fill is PatchMatch's multi-scale patch completion (Barnes et
al. 2009, with Wexler-style voting; the ``pypatchmatch`` package) run on the window, because nothing we built
was preferred to it:

* a numba multi-scale EM completion of our own, started from the network's smooth fill, with a gradient and a
  low-pass guide term: PatchMatch preferred in 83 % of pairs (78 % with the best ablation, sharp matching);
* the same completion started from PatchMatch's fill: lower hole PSNR on strokes (18.4 vs 19.6 dB);
* PatchMatch followed by a gradient-domain seam membrane: plain PatchMatch preferred in 65 % of pairs (the
  membrane carried colour casts into the hole);
* PatchMatch on the hole's box plus half its side of context, 5 x 5 patches, with the membrane: 60 %.

``detail`` blends the smooth start (0: the network's fill) and the completion (1) inside the hole. Windows over
:data:`MAX_SIDE` px are completed at that size and upscaled (PatchMatch costs ~3.5 s on an 800 x 800 window
here, so a 12 MP photo would not fill in seconds otherwise); the texture of a very large hole in a very large
photo is therefore softer than the photo around it.

When asked to explain itself the stage also says where each filled pixel came from: a PatchMatch search
(:mod:`gmcnn.inpainting.patch_search`) for the known patch most like each filled patch, whose field is
``sources`` and whose patch distances, against their median, give ``confidence``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from gmcnn.errors import UserError
from gmcnn.inpainting.image import resize_mask, resize_rgb

MAX_SIDE: Final = 512  # the largest window side completed at full size
PATCH_RADIUS: Final = 3  # pypatchmatch's patch_size: 7 x 7 patches (its default, and the baseline's)
SOURCE_PASSES: Final = 4  # PatchMatch passes of the sources search (explain only)


@dataclass
class Completion:
    """What :func:`complete` returns for one window.

    Attributes:
        image: uint8 ``h x w x 3``, the window completed; known pixels equal the input exactly.
        sources: int32 ``h x w x 2``, the ``(y, x)`` in the window of the known pixel each hole pixel's colour
            was copied from; -1 on known pixels (``None`` unless asked to explain).
        confidence: float32 ``h x w`` in [0, 1], how far the fill can be trusted: 1 on known pixels, lower where
            the filled patch is unlike any known patch (``None`` unless asked to explain).
        timings: seconds per step.
    """

    image: np.ndarray
    sources: np.ndarray | None
    confidence: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)


def complete(
    rgb: np.ndarray, hole: np.ndarray, start: np.ndarray, *, detail: float = 1.0, seed: int = 0,
    explain: bool = False,
) -> Completion:  # fmt: skip
    """Complete the hole of one window with texture of its known part (see the module docstring).

    Args:
        rgb: uint8 ``h x w x 3``, the window of the photo (what is under the hole is ignored).
        hole: bool ``h x w``, True = fill.
        start: ``h x w x 3`` uint8 or float in [0, 255], the smooth fill ``detail`` blends from.
        detail: in [0, 1]; 0 returns ``start`` in the hole, 1 the full completion, values between blend.
        seed: seed of PatchMatch's random search; the result is deterministic for a seed.
        explain: also compute ``sources`` and ``confidence``.

    Raises:
        UserError: ``detail > 0`` and pypatchmatch's native library cannot be loaded on this machine.
    """
    h, w = hole.shape
    if rgb.shape != (h, w, 3) or rgb.dtype != np.uint8 or np.shape(start) != (h, w, 3):
        raise ValueError(f"rgb {rgb.dtype} {rgb.shape}, hole {hole.shape} and start {np.shape(start)} disagree")
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    hole = np.asarray(hole, dtype=bool)
    timings: dict[str, float] = {}
    sources = confidence = None
    filled = None  # uint8: PatchMatch's fill, known pixels unchanged
    if detail > 0 and hole.any() and not hole.all():
        t0 = time.perf_counter()
        filled = patchmatch_fill(rgb, hole, seed=seed)
        timings["patchmatch"] = time.perf_counter() - t0
        if explain:
            from gmcnn.inpainting.patch_search import copied_from  # numba: only when explaining

            t1 = time.perf_counter()
            sources, confidence = copied_from(filled.astype(np.float32), hole, seed=seed, patch=PATCH_RADIUS)
            timings["sources"] = time.perf_counter() - t1
    if filled is not None and detail >= 1.0:
        # full detail is PatchMatch's fill as it is: no float copies of a window that may be 16 MP
        return Completion(image=filled, sources=sources, confidence=confidence, timings=timings)
    # only hole pixels are blended (known pixels come from rgb below)
    smooth = np.clip(np.asarray(start, np.float32), 0, 255)
    out = smooth if filled is None else smooth + detail * (filled.astype(np.float32) - smooth)
    image = np.where(hole[..., None], np.clip(np.rint(out), 0, 255).astype(np.uint8), rgb)
    return Completion(image=image, sources=sources, confidence=confidence, timings=timings)


def patchmatch_fill(rgb: np.ndarray, hole: np.ndarray, *, seed: int = 0, max_side: int = MAX_SIDE) -> np.ndarray:
    """``rgb`` (uint8 ``h x w x 3``) with the hole filled by pypatchmatch; windows over ``max_side`` px are filled
    at that size and the fill upscaled (bicubic). Known pixels are returned unchanged."""
    patchmatch = _patchmatch()
    h, w = hole.shape
    scale = min(1.0, max_side / max(h, w))
    small_rgb, small_hole = rgb, hole
    if scale < 1.0:
        size = (max(1, round(h * scale)), max(1, round(w * scale)))
        small_rgb, small_hole = resize_rgb(rgb, size), resize_mask(hole, size)
        if not small_hole.any() or small_hole.all():  # a hole that vanishes (or fills all) at that size
            small_rgb, small_hole, scale = rgb, hole, 1.0
    patchmatch.set_random_seed(seed)
    filled = np.asarray(
        patchmatch.inpaint(np.ascontiguousarray(small_rgb), np.ascontiguousarray(small_hole), patch_size=PATCH_RADIUS)
    )
    if scale < 1.0:
        filled = resize_rgb(filled, (h, w))
    return np.where(hole[..., None], filled, rgb)


def _patchmatch():  # type: ignore[no-untyped-def]
    """The pypatchmatch module, or a UserError that says how to do without it."""
    try:
        import patchmatch
    except ImportError:
        raise UserError("detail > 0 needs pypatchmatch (pip install pypatchmatch); detail=0 fills without it") from None
    if not patchmatch.patchmatch_available:
        raise UserError(
            "pypatchmatch's native library does not load on this machine, so detail > 0 cannot run; use detail=0"
        )
    return patchmatch


__all__ = ["MAX_SIDE", "Completion", "complete", "patchmatch_fill"]
