"""Numba kernels of the completion stage: nearest valid source, PatchMatch search, patch voting.

Every kernel works on one pyramid level of the completion region (``H x W``):

* ``feat`` float32 ``H x W x C``: the features a patch is compared on (colour and gradients), the current
  estimate inside the hole and the photo outside;
* ``targets`` int32 ``N x 2``: the ``(y, x)`` centres of the patches that overlap the hole, in raster order;
* ``nnf`` int32 ``N x 2``: for each target, the centre of its source patch, always a *valid* source (a centre
  whose whole patch lies on known pixels inside the region, ``valid[y, x]``);
* ``cost`` float32 ``N``: the target's current cost (patch distance plus the guide and proximity terms).

The search is PatchMatch (Barnes et al. 2009): propagation from the left/upper (or right/lower, on odd
passes) neighbour and a random search at halving radii, each candidate snapped to its nearest valid centre
(:func:`nearest_valid`) so no draw is wasted on the hole. It runs serially (propagation needs the scan order)
and draws from numba's own generator, seeded per call, so a result is deterministic for a seed.
Compiled with ``cache=True``: the first call in a fresh install compiles (a few seconds) and writes the cache
next to this file (or to ``NUMBA_CACHE_DIR``), later processes load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def nearest_valid(valid: np.ndarray) -> np.ndarray:
    """``H x W x 2`` int32: for every pixel the ``(y, x)`` of a nearest valid pixel (4-connected BFS distance).

    Raises nothing: with no valid pixel at all every entry is ``-1``.
    """
    h, w = valid.shape
    out = np.full((h, w, 2), -1, np.int32)
    queue = np.empty(h * w, np.int32)
    head, tail = 0, 0
    for y in range(h):
        for x in range(w):
            if valid[y, x]:
                out[y, x, 0] = y
                out[y, x, 1] = x
                queue[tail] = y * w + x
                tail += 1
    while head < tail:
        k = queue[head]
        head += 1
        y, x = k // w, k % w
        for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < h and 0 <= nx < w and out[ny, nx, 0] < 0:
                out[ny, nx, 0] = out[y, x, 0]
                out[ny, nx, 1] = out[y, x, 1]
                queue[tail] = ny * w + nx
                tail += 1
    return out


@njit(cache=True)
def _cost(feat, weight, guide, ty, tx, sy, sx, r, lam_guide, tol2, lam_near, scale2, bound):  # type: ignore[no-untyped-def]
    """Cost of copying the patch at ``(sy, sx)`` onto the target ``(ty, tx)``; stops early above ``bound``.

    Patch distance: the weighted sum of squared feature differences over the target patch's pixels inside the
    region (``weight`` is 1 on known pixels, lower on the estimate). Plus, per patch pixel: ``lam_guide`` x the
    squared difference of the low-pass guide at the two centres (keeps each part of the hole with the region
    its border belongs to; differences within ``tol2`` are free, so the guide's smooth gradients do not force
    the fill into rings along them), and ``lam_near`` x the squared source-target distance over ``scale2`` (prefers
    nearby sources).
    """
    h, w, c = feat.shape
    n = (2 * r + 1) * (2 * r + 1)
    g = 0.0
    for k in range(guide.shape[2]):
        t = guide[ty, tx, k] - guide[sy, sx, k]
        g += t * t
    d = n * (lam_guide * max(g - tol2, 0.0) + lam_near * ((ty - sy) ** 2 + (tx - sx) ** 2) / scale2)
    if d > bound:
        return d
    for dy in range(-r, r + 1):
        y = ty + dy
        if y < 0 or y >= h:
            continue
        ys = sy + dy
        for dx in range(-r, r + 1):
            x = tx + dx
            if x < 0 or x >= w:
                continue
            s = 0.0
            for k in range(c):
                t = feat[y, x, k] - feat[ys, sx + dx, k]
                s += t * t
            d += weight[y, x] * s
        if d > bound:
            return d
    return d


@njit(cache=True)
def initial_costs(feat, weight, guide, targets, nnf, r, lam_guide, tol2, lam_near, scale2):  # type: ignore[no-untyped-def]
    """The cost of every target's current source (float32 ``N``)."""
    n = targets.shape[0]
    cost = np.empty(n, np.float32)
    for i in range(n):
        cost[i] = _cost(feat, weight, guide, targets[i, 0], targets[i, 1], nnf[i, 0], nnf[i, 1], r, lam_guide,
                        tol2, lam_near, scale2, np.inf)  # fmt: skip
    return cost


@njit(cache=True)
def search(feat, weight, guide, targets, index, nnf, cost, valid, snap, r, lam_guide, tol2, lam_near, scale2,
           passes, seed):  # type: ignore[no-untyped-def]  # fmt: skip
    """PatchMatch passes over all targets, improving ``nnf`` and ``cost`` in place.

    ``index`` int32 ``H x W``: the target number at each pixel, -1 where no target.
    """
    np.random.seed(seed)
    h, w = valid.shape
    n = targets.shape[0]
    radius0 = max(h, w)
    for p in range(passes):
        step = 1 if p % 2 == 0 else -1
        for j in range(n):
            i = j if step == 1 else n - 1 - j
            ty, tx = np.int64(targets[i, 0]), np.int64(targets[i, 1])
            by, bx, bc = nnf[i, 0], nnf[i, 1], cost[i]
            # propagation: the neighbour already visited in this pass, its source shifted by one pixel
            for q in range(2):
                ny, nx = (ty, tx - step) if q == 0 else (ty - step, tx)
                if ny < 0 or ny >= h or nx < 0 or nx >= w or index[ny, nx] < 0:
                    continue
                k = index[ny, nx]
                cy, cx = nnf[k, 0] + (ty - ny), nnf[k, 1] + (tx - nx)
                if cy < 0 or cy >= h or cx < 0 or cx >= w or not valid[cy, cx] or (cy == by and cx == bx):
                    continue
                d = _cost(feat, weight, guide, ty, tx, cy, cx, r, lam_guide, tol2, lam_near, scale2, bc)
                if d < bc:
                    by, bx, bc = cy, cx, d
            # random search around the best at halving radii
            rad = radius0
            while rad >= 1:
                cy = min(max(by + np.random.randint(-rad, rad + 1), 0), h - 1)
                cx = min(max(bx + np.random.randint(-rad, rad + 1), 0), w - 1)
                cy, cx = snap[cy, cx, 0], snap[cy, cx, 1]
                if cy != by or cx != bx:
                    d = _cost(feat, weight, guide, ty, tx, cy, cx, r, lam_guide, tol2, lam_near, scale2, bc)
                    if d < bc:
                        by, bx, bc = cy, cx, d
                rad //= 2
            nnf[i, 0], nnf[i, 1], cost[i] = by, bx, bc


@njit(cache=True)
def vote(colour, hole, targets, nnf, cost, r, sigma2):  # type: ignore[no-untyped-def]
    """Each hole pixel as the weighted mean of what the overlapping target patches' sources put there.

    A target's weight is ``exp(-mean cost per patch pixel / (2 sigma2))`` (Wexler et al. 2007): good matches
    count more. Returns float32 ``H x W x 3``: ``colour`` with the hole replaced.
    """
    h, w = hole.shape
    n = (2 * r + 1) * (2 * r + 1)
    acc = np.zeros((h, w, 3), np.float64)
    wsum = np.zeros((h, w), np.float64)
    for i in range(targets.shape[0]):
        ty, tx, sy, sx = targets[i, 0], targets[i, 1], nnf[i, 0], nnf[i, 1]
        wt = np.exp(-cost[i] / n / (2.0 * sigma2)) + 1e-12
        for dy in range(-r, r + 1):
            y = ty + dy
            if y < 0 or y >= h:
                continue
            for dx in range(-r, r + 1):
                x = tx + dx
                if x < 0 or x >= w or not hole[y, x]:
                    continue
                for k in range(3):
                    acc[y, x, k] += wt * colour[sy + dy, sx + dx, k]
                wsum[y, x] += wt
    out = colour.copy()
    for y in range(h):
        for x in range(w):
            if hole[y, x] and wsum[y, x] > 0:
                for k in range(3):
                    out[y, x, k] = acc[y, x, k] / wsum[y, x]
    return out


@njit(cache=True)
def membrane(points, values, pixels):  # type: ignore[no-untyped-def]
    """Smooth interpolation of ``values`` (``M x 3``) given at ``points`` (``M x 2``) to ``pixels`` (``N x 2``).

    Inverse-distance weights ``1 / d^3`` (Shepard): with the points on the hole's border this is close to
    the harmonic membrane of gradient-domain cloning (Farbman et al. 2009 use mean-value weights, which
    behave alike), at ``N x M`` cost and with no iterations. Returns float32 ``N x 3``.
    """
    out = np.zeros((pixels.shape[0], 3), np.float32)
    for i in range(pixels.shape[0]):
        py, px = pixels[i, 0], pixels[i, 1]
        a0 = a1 = a2 = 0.0
        ws = 0.0
        for j in range(points.shape[0]):
            d2 = float((points[j, 0] - py) ** 2 + (points[j, 1] - px) ** 2)
            wt = 1.0 / (d2 * np.sqrt(d2)) if d2 > 0.0 else 1e30  # on a point: its value
            a0 += wt * values[j, 0]
            a1 += wt * values[j, 1]
            a2 += wt * values[j, 2]
            ws += wt
        out[i, 0], out[i, 1], out[i, 2] = a0 / ws, a1 / ws, a2 / ws
    return out


@njit(cache=True)
def ring_median(step, count, points, radius):  # type: ignore[no-untyped-def]
    """Per point, the channel-wise median of ``step`` over the border pixels (``count > 0``) within ``radius``.

    One bright star or a thin line on the border would otherwise be spread into the hole as a glowing blob.
    Returns float32 ``M x 3``.
    """
    h, w = count.shape
    out = np.zeros((points.shape[0], 3), np.float32)
    buf = np.empty(((2 * radius + 1) ** 2, 3), np.float32)
    for i in range(points.shape[0]):
        n = 0
        for y in range(max(0, points[i, 0] - radius), min(h, points[i, 0] + radius + 1)):
            for x in range(max(0, points[i, 1] - radius), min(w, points[i, 1] + radius + 1)):
                if count[y, x] > 0:
                    for k in range(3):
                        buf[n, k] = step[y, x, k] / count[y, x]
                    n += 1
        for k in range(3):
            out[i, k] = np.median(buf[:n, k])
    return out


__all__ = ["initial_costs", "membrane", "ring_median", "nearest_valid", "search", "vote"]
