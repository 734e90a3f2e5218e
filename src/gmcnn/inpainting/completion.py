"""The completion stage: fill a hole with real patches of the photo, coarse to fine, starting from a smooth fill.

Multi-scale EM completion (Wexler, Shechtman & Irani, PAMI 2007), started from the pipeline's smooth fill
(the network's output, or the push-pull pre-fill) instead of from nothing:

1. **Region and pyramid.** The hole's bounding box plus context on every side (``context`` x the square root
   of the box's area, at least :data:`MIN_CONTEXT` px: a long thin stroke needs little) is halved until the
   hole is at most ``thin`` px from its border everywhere, or whole known patches would run short
   (``min_valid``). The coarsest level starts as the smooth fill, with a random known patch for each target.
2. **At each level, coarse to fine:** a PatchMatch search (:mod:`gmcnn.inpainting.patch_search`) finds for
   every patch that overlaps the hole the known patch it is most like, comparing colour and luminance
   gradients (``grad``) *blurred* by ``blur`` px (the estimate is a vote of overlapping patches and so a
   little soft; comparing sources equally soft keeps EM from drifting to flat sources, where stars vanish
   and skies go smooth), the low-pass guide at the centres (``guide``: the smooth fill low-passed, so each
   part of the hole keeps to the region its border belongs to) and, optionally, the source's distance
   (``near``). Every hole pixel then becomes the weighted mean of what the overlapping sources put there (the
   vote). The field is upsampled to the next level and refined there, with fewer iterations as levels grow.
3. **Finest level:** each hole pixel copies the centre of its own best patch (``final="copy"``: sharp, and
   ``sources`` says exactly where from) or takes the vote (``final="vote"``). Levels over :data:`MAX_SIDE` px
   or ``max_pixels`` hole pixels are not searched: they inherit the upsampled field (the copy stays sharp).
4. **Seam** (``seam=True``): the colour step between the copied pixels and the known pixels along the hole's
   border is spread smoothly over the hole (a membrane, as in gradient-domain / Poisson cloning: the copied
   content keeps its own gradients), so no lighter or darker band outlines the hole.
5. ``detail`` blends the smooth start (0) and the completion (1).

Measured (``benchmarks/completion.py quality``, results in ``benchmarks/results/completion_quality.md``): every
switch above on / off, against PatchMatch (pypatchmatch) and the push-pull fill.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import torch

from gmcnn.inpainting import patch_search as ps
from gmcnn.inpainting.seam import blend_seam

MIN_CONTEXT: Final = 32
MAX_SIDE: Final = 512  # the largest region side searched; larger regions are searched smaller and upsampled
THIN: Final = 48  # holes thinner than this (px from inside to border) are compared less blurred


@dataclass
class Completion:
    """What :func:`complete` returns for one window.

    Attributes:
        image: uint8 ``h x w x 3``, the window completed; known pixels equal the input exactly.
        sources: int32 ``h x w x 2``, the ``(y, x)`` in the window of the known pixel each hole pixel's colour
            was copied from (the final nearest-neighbour field); -1 on known pixels and where nothing was copied.
        confidence: float32 ``h x w`` in [0, 1], how far the fill can be trusted (1 on known pixels).
        timings: seconds per step.
    """

    image: np.ndarray
    sources: np.ndarray | None
    confidence: np.ndarray | None
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Settings:
    """The ingredient switches of :func:`complete` (see the module docstring)."""

    patch: int = 3  # patch radius: (2 patch + 1)^2 patches
    context: float = 1.0
    grad: float = 1.0  # weight of the luminance-gradient features against colour
    blur: float = 1.5  # patches are compared blurred by this sigma (px), copied sharp
    guide: float = 1.0  # weight of the low-pass guide term
    guide_tol: float = 0.1  # guide differences up to this (per channel, colour in [0, 1]) cost nothing
    guide_sigma: float = 0.125  # the guide's low-pass sigma, as a fraction of the hole's longer side
    near: float = 0.0  # weight of the source-distance term
    hole_weight: float = 0.5  # patch-distance weight of the estimate's pixels (known pixels: 1)
    em: int = 6  # the most EM iterations at a level (coarse levels)
    em_fine: int = 1  # EM iterations at the finest searched level, one more per level above
    thin: int = 3  # the pyramid stops when the hole is this thin (px from its border) ...
    min_valid: float = 0.3  # ... or when whole known patches would be fewer than this x the hole's pixels
    max_pixels: int = 12_000  # the most hole pixels searched at one level (finer levels copy the upsampled field)
    passes: int = 2  # PatchMatch passes per EM iteration
    from_start: bool = True  # the coarsest estimate is the smooth start (else the initial field's vote)
    init: str = "random"  # the coarsest field: "random" known patches or the "nearest" known patch
    final: str = "copy"  # "copy" or "vote"
    seam: bool = True


def complete(
    rgb: np.ndarray, hole: np.ndarray, start: np.ndarray, *, detail: float = 1.0, seed: int = 0, **switches: object
) -> Completion:
    """Complete the hole of one window with patches of its known part (see the module docstring).

    Args:
        rgb: uint8 ``h x w x 3``, the window of the photo (what is under the hole is ignored).
        hole: bool ``h x w``, True = fill.
        start: ``h x w x 3`` uint8 or float in [0, 255], the smooth fill the completion starts from.
        detail: in [0, 1]; 0 returns ``start`` in the hole, 1 the full completion, values between blend.
        seed: seed of the random search; the result is deterministic for a seed.
        **switches: fields of :class:`Settings`.
    """
    settings = Settings(**switches)  # type: ignore[arg-type]
    if settings.final not in ("copy", "vote"):
        raise ValueError(f"final must be 'copy' or 'vote', got {settings.final!r}")
    h, w = hole.shape
    if rgb.shape != (h, w, 3) or rgb.dtype != np.uint8 or np.shape(start) != (h, w, 3):
        raise ValueError(f"rgb {rgb.dtype} {rgb.shape}, hole {hole.shape} and start {np.shape(start)} disagree")
    if not 0.0 <= detail <= 1.0:
        raise ValueError(f"detail must be in [0, 1], got {detail}")
    hole = np.asarray(hole, dtype=bool)
    smooth = np.where(hole[..., None], np.clip(np.asarray(start, np.float32), 0, 255), rgb.astype(np.float32))
    sources = np.full((h, w, 2), -1, np.int32)
    confidence = np.ones((h, w), np.float32)
    timings: dict[str, float] = {}
    filled = smooth
    if hole.any() and detail > 0 and not hole.all():
        filled = _complete_region(rgb, hole, smooth, settings, seed, sources, confidence, timings)
    out = smooth + detail * (filled - smooth) if detail < 1.0 else filled
    image = np.where(hole[..., None], np.clip(np.rint(out), 0, 255).astype(np.uint8), rgb)
    confidence[~hole] = 1.0
    return Completion(image=image, sources=sources, confidence=confidence, timings=timings)


def _complete_region(
    rgb: np.ndarray, hole: np.ndarray, smooth: np.ndarray, s: Settings, seed: int,
    sources: np.ndarray, confidence: np.ndarray, timings: dict[str, float],
) -> np.ndarray:  # fmt: skip
    """The completion of ``smooth`` (float32 composite) in the hole; fills ``sources`` and ``confidence``."""
    t0 = time.perf_counter()
    rows, cols = np.nonzero(hole.any(axis=1))[0], np.nonzero(hole.any(axis=0))[0]
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = max(bottom - top, right - left)
    # context in proportion to the box's area, not its longer side: a long thin stroke needs little
    m = max(MIN_CONTEXT, round(s.context * math.sqrt((bottom - top) * (right - left))))
    y0, x0 = max(0, top - m), max(0, left - m)
    sl = (slice(y0, bottom + m), slice(x0, right + m))
    colour, mask = smooth[sl], hole[sl]
    pyramid, skip, thickness = _pyramid(colour, mask, _lowpass(colour, max(1.0, s.guide_sigma * side)), s)
    timings["pyramid"] = time.perf_counter() - t0
    # thin holes: the vote hardly blurs (the known border dominates every patch), so compare sharper
    blur = s.blur * min(1.0, max(1 / 3, thickness / THIN))
    solved = _solve(pyramid, skip, s, seed, side, blur, timings)
    if solved is None:
        return smooth  # no whole known patch anywhere: keep the smooth fill
    targets, nnf, estimate, trust = solved
    inside = mask[targets[:, 0], targets[:, 1]]
    ty, tx = targets[inside, 0], targets[inside, 1]
    src = nnf[inside]
    out = colour.copy()
    if s.final == "copy":
        out[ty, tx] = colour[src[:, 0], src[:, 1]]
    else:
        out = estimate.astype(np.float32)
    if s.seam:
        out = blend_seam(out, colour, mask, targets, nnf)
    region_sources = sources[sl]
    region_sources[ty, tx, 0] = src[:, 0] + y0
    region_sources[ty, tx, 1] = src[:, 1] + x0
    confidence[sl][ty, tx] = trust[ty, tx]
    result = smooth.copy()
    result[sl] = out
    timings["total"] = time.perf_counter() - t0
    return result


Level = tuple[np.ndarray, np.ndarray, np.ndarray]  # colour (h, w, 3), hole (h, w), guide (h, w, 3)


def _pyramid(colour: np.ndarray, mask: np.ndarray, guide: np.ndarray, s: Settings) -> tuple[list[Level], int, int]:
    """Halve until the hole is thin enough or known patches run short; also how many fine levels to not search,
    and the hole's thickness (px from its inside to its border) at full size.

    A level is searched when its side is at most :data:`MAX_SIDE` and it has at most ``s.max_pixels``
    hole pixels; the finer ones only inherit the upsampled field (a copy stays sharp at full size).
    """
    pyramid = [(colour, mask, guide)]
    skip, r = 0, s.patch
    thickness = full = _thickness(mask)
    while max(pyramid[-1][1].shape) > 2 * (2 * r + 1):
        c, k, g = pyramid[-1]
        big = max(k.shape) > MAX_SIDE or k.sum() > s.max_pixels
        if not big and thickness <= s.thin:
            break
        coarse = _half_mask(k)
        if not big and _valid_sources(coarse, r).sum() < s.min_valid * coarse.sum():
            break  # too few whole known patches for the hole: too coarse to match anything
        skip += big
        thickness = (thickness + 1) // 2
        pyramid.append((_half(c), coarse, _half(g)))
    return pyramid, skip, full


def _solve(
    pyramid: list[Level], skip: int, s: Settings, seed: int, side: int, blur: float, timings: dict[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """EM from the coarsest level to the finest: targets, field, estimate and trust (h x w) at the finest."""
    t0 = time.perf_counter()
    nnf = targets = None
    estimate = pyramid[-1][0]
    trust = np.ones(pyramid[-1][1].shape, np.float32)
    for level in range(len(pyramid) - 1, -1, -1):
        c, k, g = pyramid[level]
        new_targets = _targets(k, s.patch)
        # a searched level's sources are whole known patches; a copied-only level needs just a known pixel
        # (snapping to whole patches there would pile neighbours onto one pixel: streaks across the fill)
        valid = _valid_sources(k, s.patch if level >= skip else 1)
        if not valid.any():
            return None
        snap = ps.nearest_valid(valid)
        if nnf is None or targets is None:
            if s.init == "random":  # a random known patch each: no onion-peel rings from the nearest border
                pool = np.argwhere(valid).astype(np.int32)
                nnf = pool[np.random.default_rng(seed).integers(0, len(pool), len(new_targets))]
            else:
                nnf = snap[new_targets[:, 0], new_targets[:, 1]].copy()
            if not s.from_start:  # the coarsest estimate is the vote of the initial field, not the smooth fill
                estimate = np.where(k[..., None], _vote(c, k, new_targets, nnf, None, s.patch), c)
        else:
            nnf = _upsample_nnf(nnf, targets, new_targets, pyramid[level + 1][1].shape, valid, snap)
            if level >= skip or (level == 0 and s.final == "vote"):
                estimate = np.where(k[..., None], _vote(c, k, new_targets, nnf, None, s.patch), c)
            trust = np.repeat(np.repeat(trust, 2, axis=0), 2, axis=1)[: k.shape[0], : k.shape[1]]
        targets = new_targets
        if level < skip:
            continue
        index = np.full(k.shape, -1, np.int32)
        index[targets[:, 0], targets[:, 1]] = np.arange(len(targets), dtype=np.int32)
        weight = np.where(k, s.hole_weight, 1.0).astype(np.float32)
        scale2 = float(max(1, side >> level) ** 2)
        gd = np.ascontiguousarray(g / 255.0, dtype=np.float32)
        tol2 = 3 * s.guide_tol**2  # over the 3 channels
        cost = np.zeros(len(targets), np.float32)
        # all iterations at the coarsest level (it starts from scratch), fewer as levels get finer and dearer
        iterations = s.em if level == len(pyramid) - 1 else min(s.em, s.em_fine + level - skip)
        for it in range(iterations):
            feat = _features(estimate, s.grad, blur)
            cost = ps.initial_costs(feat, weight, gd, targets, nnf, s.patch, s.guide, tol2, s.near, scale2)
            ps.search(feat, weight, gd, targets, index, nnf, cost, valid, snap, s.patch, s.guide, tol2, s.near, scale2,
                      s.passes, seed + 7919 * level + it)  # fmt: skip
            if level > 0 or s.final == "vote":
                estimate = np.where(k[..., None], _vote(c, k, targets, nnf, cost, s.patch), c)
        # trust: the mean cost per patch pixel against the level's median, 1/2 at twice the median
        err = cost / (2 * s.patch + 1) ** 2
        trust = np.ones(k.shape, np.float32)
        trust[targets[:, 0], targets[:, 1]] = np.exp2(-err / max(2.0 * float(np.median(err)), 1e-6))
        timings[f"level{level}"] = time.perf_counter() - t0
    assert nnf is not None and targets is not None
    return targets, nnf, estimate, trust


def _targets(mask: np.ndarray, r: int) -> np.ndarray:
    """``N x 2`` int32 centres (raster order) of the patches of radius ``r`` that overlap the hole."""
    grown = _dilate(mask, r)
    return np.ascontiguousarray(np.argwhere(grown).astype(np.int32))


def _valid_sources(mask: np.ndarray, r: int) -> np.ndarray:
    """Centres whose whole ``(2r+1)^2`` patch is known and inside the region."""
    valid = ~_dilate(mask, r)
    valid[:r], valid[-r:], valid[:, :r], valid[:, -r:] = False, False, False, False
    return valid


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Square dilation by ``r`` px (separable running max via padding and shifts)."""
    out = mask.copy()
    for axis in (0, 1):
        padded = np.pad(out, [(r, r) if a == axis else (0, 0) for a in range(2)])
        acc = np.zeros_like(out)
        n = out.shape[axis]
        for d in range(2 * r + 1):
            acc |= padded[d : d + n] if axis == 0 else padded[:, d : d + n]
        out = acc
    return out


def _thickness(mask: np.ndarray) -> int:
    """The largest distance (4-connected steps) from a hole pixel to the nearest known pixel."""
    if mask.all():
        return max(mask.shape)
    near = ps.nearest_valid(~mask)
    yy, xx = np.nonzero(mask)
    return int(np.max(np.abs(near[yy, xx, 0] - yy) + np.abs(near[yy, xx, 1] - xx), initial=0))


def _half(x: np.ndarray) -> np.ndarray:
    """2 x 2 block means (odd sides: the last row/column is repeated); strided sums, not a reshaped mean,
    which numpy runs several times slower on these layouts."""
    h, w = x.shape[:2]
    x = np.pad(x, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if h % 2 or w % 2 else x
    return np.asarray((x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]) * 0.25, np.float32)


def _half_mask(m: np.ndarray) -> np.ndarray:
    """A coarse pixel is hole when any of its 2 x 2 block is."""
    h, w = m.shape
    m = np.pad(m, ((0, h % 2), (0, w % 2)))
    return np.asarray(m.reshape(m.shape[0] // 2, 2, m.shape[1] // 2, 2).any(axis=(1, 3)))


def _upsample_nnf(
    nnf: np.ndarray, targets: np.ndarray, fine: np.ndarray, coarse_shape: tuple[int, ...], valid: np.ndarray,
    snap: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """The coarse field at the fine targets: twice the parent's source plus the offset inside the block."""
    index = np.full(coarse_shape, -1, np.int32)
    index[targets[:, 0], targets[:, 1]] = np.arange(len(targets), dtype=np.int32)
    parent = index[fine[:, 0] // 2, fine[:, 1] // 2]
    h, w = valid.shape
    y = np.clip(2 * nnf[np.maximum(parent, 0), 0] + fine[:, 0] % 2, 0, h - 1)
    x = np.clip(2 * nnf[np.maximum(parent, 0), 1] + fine[:, 1] % 2, 0, w - 1)
    y, x = np.where(parent >= 0, y, fine[:, 0]), np.where(parent >= 0, x, fine[:, 1])
    return np.ascontiguousarray(snap[y, x]).astype(np.int32)  # invalid positions go to the nearest valid one


def _vote(colour: np.ndarray, mask: np.ndarray, targets: np.ndarray, nnf: np.ndarray, cost: np.ndarray | None,
          r: int) -> np.ndarray:  # fmt: skip
    """Patch voting (weights from ``cost``; equal weights without it)."""
    n = (2 * r + 1) ** 2
    if cost is None:
        cost, sigma2 = np.zeros(len(targets), np.float32), 1.0
    else:
        sigma2 = max(float(np.percentile(cost, 75)) / n / 2.0, 1e-6)
    return ps.vote(np.ascontiguousarray(colour, np.float32), mask, targets, nnf, cost, r, sigma2)


def _features(colour: np.ndarray, grad: float, blur: float) -> np.ndarray:
    """float32 ``H x W x (3 | 5)``: colour in [0, 1] and ``grad`` x the luminance's central differences.

    Both blurred by a Gaussian of ``blur`` px first: the estimate in the hole is a vote of overlapping
    patches and so a little blurred; blurring the sources alike lets a textured source match it as well as a
    flat one (without it EM drifts to flat sources: stars vanish, skies go smooth), and the copy is sharp.
    """
    c = colour.astype(np.float32) / 255.0
    if blur > 0:
        c = _blur(c, blur)
    if grad <= 0:
        return np.ascontiguousarray(c)
    lum = c @ np.array([0.299, 0.587, 0.114], np.float32)
    p = np.pad(lum, 1, mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * (0.5 * grad)
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * (0.5 * grad)
    return np.ascontiguousarray(np.concatenate([c, gx[..., None], gy[..., None]], axis=2))


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of ``H x W x C`` (radius 2 sigma, edge padding)."""
    r = max(1, math.ceil(2 * sigma))
    k = np.exp(-(np.arange(-r, r + 1, dtype=np.float32) ** 2) / (2 * sigma**2))
    k /= k.sum()
    p = np.pad(x, ((r, r), (0, 0), (0, 0)), mode="edge")
    x = sum(k[i] * p[i : i + x.shape[0]] for i in range(2 * r + 1))
    p = np.pad(x, ((0, 0), (r, r), (0, 0)), mode="edge")
    return np.asarray(sum(k[i] * p[:, i : i + x.shape[1]] for i in range(2 * r + 1)), np.float32)


def _lowpass(colour: np.ndarray, sigma: float) -> np.ndarray:
    from gmcnn.inpainting.texture import lowpass

    t = torch.from_numpy(np.ascontiguousarray(colour, np.float32)).permute(2, 0, 1)[None]
    return lowpass(t, sigma)[0].permute(1, 2, 0).numpy()


__all__ = ["Completion", "Settings", "complete"]
