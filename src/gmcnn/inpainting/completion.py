"""The completion stage: fill a hole with real patches of the photo, coarse to fine, starting from a smooth fill.

Multi-scale EM completion (Wexler, Shechtman & Irani, PAMI 2007), started from the pipeline's smooth fill
(the network's output, or the push-pull pre-fill) instead of from nothing:

1. **Region and pyramid.** The hole's bounding box plus context on every side (``context`` x its longer
   side, at least :data:`MIN_CONTEXT` px) is halved until the hole is at most :data:`COARSE_THICKNESS` px
   from its border everywhere. The coarsest level starts as the smooth fill.
2. **At each level, coarse to fine:** a PatchMatch search (:mod:`gmcnn.inpainting.patch_search`) finds for
   every patch that overlaps the hole the known patch it is most like, comparing colour and luminance
   gradients (``grad``), the low-pass guide at the centres (``guide``: the smooth fill low-passed, so each
   part of the hole keeps to the region its border belongs to), and how far away the source is (``near``).
   Then every hole pixel becomes the weighted mean of what the overlapping sources put there (the vote).
   The nearest-neighbour field is upsampled to the next level and refined there.
3. **Finest level:** each hole pixel copies the centre of its own best patch (``final="copy"``: sharp, and
   ``sources`` says exactly where from) or takes the vote (``final="vote"``). Regions over
   :data:`MAX_SIDE` px are searched at a reduced size and the field is upsampled to full size for the copy.
4. **Seam** (``seam=True``): the colour step between the copied pixels and the known pixels along the hole's
   border is spread smoothly over the hole (a membrane, i.e. gradient-domain / Poisson blending with the
   copied content's own gradients), so no lighter or darker band outlines the hole.
5. ``detail`` blends the smooth start (0) and the completion (1).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import torch

from gmcnn.inpainting import patch_search as ps

MIN_CONTEXT: Final = 32
COARSE_THICKNESS: Final = 6  # px from the hole's inside to its border at the coarsest level
MAX_SIDE: Final = 512  # the largest region side searched; larger regions are searched smaller and upsampled
SEAM_POINTS: Final = 512  # border points the seam correction is interpolated from
SEAM_POWER: Final = 3.0  # inverse-distance power of that interpolation
KNOWN, HOLE_WEIGHT = 1.0, 0.5  # patch-distance weight of known pixels and of the current estimate


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
    guide: float = 1.0  # weight of the low-pass guide term
    guide_sigma: float = 0.125  # the guide's low-pass sigma, as a fraction of the hole's longer side
    near: float = 0.0  # weight of the source-distance term
    em: int = 3  # EM iterations per level
    passes: int = 3  # PatchMatch passes per EM iteration
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
    m = max(MIN_CONTEXT, round(s.context * side))
    y0, x0 = max(0, top - m), max(0, left - m)
    sl = (slice(y0, bottom + m), slice(x0, right + m))
    colour, mask = smooth[sl], hole[sl]
    guide = _lowpass(colour, max(1.0, s.guide_sigma * side))
    pyramid = [(colour, mask, guide)]
    skip = 0  # levels too large to search
    while max(pyramid[-1][1].shape) > 2 * (2 * s.patch + 1):
        c, k, g = pyramid[-1]
        if max(k.shape) <= MAX_SIDE and _thickness(k) <= COARSE_THICKNESS:
            break
        coarse = _half_mask(k)
        if max(k.shape) <= MAX_SIDE and _valid_sources(coarse, s.patch).sum() < coarse.sum():
            break  # fewer whole known patches than hole pixels: too coarse to match anything
        skip += max(k.shape) > MAX_SIDE
        pyramid.append((_half(c), coarse, _half(g)))
    timings["pyramid"] = time.perf_counter() - t0
    nnf = targets = cost = None
    estimate = pyramid[-1][0]
    for level in range(len(pyramid) - 1, -1, -1):
        c, k, g = pyramid[level]
        new_targets = _targets(k, s.patch)
        valid = _valid_sources(k, s.patch)
        if not valid.any():
            return smooth  # no whole known patch anywhere: keep the smooth fill
        snap = ps.nearest_valid(valid)
        if nnf is None or targets is None:
            nnf = snap[new_targets[:, 0], new_targets[:, 1]].copy()
        else:
            nnf = _upsample_nnf(nnf, targets, new_targets, pyramid[level + 1][1].shape, valid, snap)
            estimate = np.where(k[..., None], _vote(c, k, new_targets, nnf, None, s.patch), c)
        targets = new_targets
        index = np.full(k.shape, -1, np.int32)
        index[targets[:, 0], targets[:, 1]] = np.arange(len(targets), dtype=np.int32)
        weight = np.where(k, HOLE_WEIGHT, KNOWN).astype(np.float32)
        scale2 = float(max(1, side >> level) ** 2)
        gd = np.ascontiguousarray(g / 255.0, dtype=np.float32)
        searched = level >= skip
        for it in range(s.em if searched else 0):
            feat = _features(estimate, s.grad)
            cost = ps.initial_costs(feat, weight, gd, targets, nnf, s.patch, s.guide, s.near, scale2)
            ps.search(feat, weight, gd, targets, index, nnf, cost, valid, snap, s.patch, s.guide, s.near, scale2,
                      s.passes, seed + 7919 * level + it)  # fmt: skip
            if level > 0 or s.final == "vote":
                estimate = np.where(k[..., None], _vote(c, k, targets, nnf, cost, s.patch), c)
        timings[f"level{level}"] = time.perf_counter() - t0
    assert nnf is not None and targets is not None
    inside = mask[targets[:, 0], targets[:, 1]]
    ty, tx = targets[inside, 0], targets[inside, 1]
    src = nnf[inside]
    out = colour.copy()
    if s.final == "copy":
        out[ty, tx] = colour[src[:, 0], src[:, 1]]
    else:
        out = estimate.astype(np.float32)
    if s.seam:
        out = _seam(out, colour, mask, targets, nnf)
    region_sources = sources[sl]
    region_sources[ty, tx, 0] = src[:, 0] + y0
    region_sources[ty, tx, 1] = src[:, 1] + x0
    feat = _features(out, s.grad)
    err = ps.initial_costs(feat, np.where(mask, HOLE_WEIGHT, KNOWN).astype(np.float32), guide[..., :0].astype(
        np.float32), targets, nnf, s.patch, 0.0, 0.0, 1.0)[inside] / (2 * s.patch + 1) ** 2  # fmt: skip
    confidence[sl][ty, tx] = np.exp(-err / max(float(np.median(err)), 1e-4) * math.log(2) / 2)
    result = smooth.copy()
    result[sl] = out
    timings["total"] = time.perf_counter() - t0
    return result


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
    """2 x 2 block means (odd sides: the last row/column is repeated)."""
    h, w = x.shape[:2]
    x = np.pad(x, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2, -1).mean(axis=(1, 3), dtype=np.float32)


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


def _features(colour: np.ndarray, grad: float) -> np.ndarray:
    """float32 ``H x W x (3 | 5)``: colour in [0, 1] and ``grad`` x the luminance's central differences."""
    c = colour.astype(np.float32) / 255.0
    if grad <= 0:
        return np.ascontiguousarray(c)
    lum = c @ np.array([0.299, 0.587, 0.114], np.float32)
    p = np.pad(lum, 1, mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * (0.5 * grad)
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * (0.5 * grad)
    return np.ascontiguousarray(np.concatenate([c, gx[..., None], gy[..., None]], axis=2))


def _lowpass(colour: np.ndarray, sigma: float) -> np.ndarray:
    from gmcnn.inpainting.texture import lowpass

    t = torch.from_numpy(np.ascontiguousarray(colour, np.float32)).permute(2, 0, 1)[None]
    return lowpass(t, sigma)[0].permute(1, 2, 0).numpy()


def _seam(out: np.ndarray, colour: np.ndarray, mask: np.ndarray, targets: np.ndarray, nnf: np.ndarray) -> np.ndarray:
    """Spread the colour step at the hole's border smoothly over the hole (a membrane, as in Poisson blending).

    For a known pixel ``q`` next to a hole pixel ``p`` the step is ``photo[q] - photo[source(p) + (q - p)]``:
    what is really there minus what the copied patch has there. Averaged per ``q`` (at most
    :data:`SEAM_POINTS` of them), the steps are interpolated into the hole (:func:`patch_search.membrane`) and
    added, so the copied content keeps its own gradients and meets the border without a step.
    """
    h, w = mask.shape
    index = np.full(mask.shape, -1, np.int32)
    index[targets[:, 0], targets[:, 1]] = np.arange(len(targets), dtype=np.int32)
    step = np.zeros((h, w, 3), np.float32)
    count = np.zeros((h, w), np.float32)
    yy, xx = np.nonzero(mask)
    src = nnf[index[yy, xx]]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qy, qx = yy + dy, xx + dx
        ok = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        qy, qx, sy, sx = qy[ok], qx[ok], src[ok, 0] + dy, src[ok, 1] + dx
        known = ~mask[qy, qx]
        qy, qx, sy, sx = qy[known], qx[known], sy[known], sx[known]
        np.add.at(step, (qy, qx), colour[qy, qx] - colour[sy, sx])
        np.add.at(count, (qy, qx), 1.0)
    points = np.argwhere(count > 0).astype(np.int32)
    if not len(points):
        return out
    points = points[:: max(1, len(points) // SEAM_POINTS)]
    values = step[points[:, 0], points[:, 1]] / count[points[:, 0], points[:, 1]][:, None]
    pixels = np.stack([yy, xx], axis=1).astype(np.int32)
    result = out.copy()
    result[yy, xx] += ps.membrane(points, values.astype(np.float32), pixels, SEAM_POWER)
    return result


__all__ = ["Completion", "Settings", "complete"]
