"""Where a fill came from: a PatchMatch search for the known patch most like each filled patch (numba kernels).

The completion stage's explain view (:func:`gmcnn.inpainting.completion.complete` with ``explain=True``) needs,
for every filled pixel, the known pixel its colour was taken from, and how well the fill's patches match the
photo's. :func:`copied_from` finds both with PatchMatch (Barnes et al. 2009) on the filled window:

* ``targets`` int32 ``N x 2``: the ``(y, x)`` centres of the patches that overlap the hole, in raster order;
* ``nnf`` int32 ``N x 2``: for each target, the centre of its source patch, always a *valid* source (a centre
  whose whole patch lies on known pixels inside the window, ``valid[y, x]``);
* ``cost`` float32 ``N``: the sum of squared colour and gradient differences over the patch.

The search alternates propagation from the left/upper (or right/lower, on odd passes) neighbour with a random
search at halving radii, each candidate snapped to its nearest valid centre (:func:`nearest_valid`) so no draw
is wasted on the hole. It runs serially (propagation needs the scan order) and draws from numba's own generator,
seeded per call, so a result is deterministic for a seed. Compiled with ``cache=True``: the first call in a
fresh install compiles (seconds) and writes the cache next to this file (or to ``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


def copied_from(filled: np.ndarray, hole: np.ndarray, *, seed: int = 0, patch: int = 3,
                passes: int = 4) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The sources and confidence of a filled window.

    Args:
        filled: float or uint8 ``h x w x 3``: the window with its hole filled.
        hole: bool ``h x w``, True = filled pixels.
        seed: seed of the random search.
        patch: patch radius.
        passes: PatchMatch passes.

    Returns:
        ``sources`` int32 ``h x w x 2`` (the ``(y, x)`` each hole pixel matches best, -1 on known pixels and where
        the window has no whole known patch) and ``confidence`` float32 ``h x w`` (1 on known pixels; a filled
        pixel's patch distance against the median's: 1/2 at twice the median).
    """
    h, w = hole.shape
    sources = np.full((h, w, 2), -1, np.int32)
    confidence = np.ones((h, w), np.float32)
    valid = valid_sources(hole, patch)
    if not valid.any():
        return sources, confidence
    targets = np.ascontiguousarray(np.argwhere(hole).astype(np.int32))
    snap = nearest_valid(valid)
    pool = np.argwhere(valid).astype(np.int32)
    nnf = np.ascontiguousarray(pool[np.random.default_rng(seed).integers(0, len(pool), len(targets))])
    index = np.full(hole.shape, -1, np.int32)
    index[targets[:, 0], targets[:, 1]] = np.arange(len(targets), dtype=np.int32)
    feat = features(np.asarray(filled, np.float32))
    cost = initial_costs(feat, targets, nnf, patch)
    search(feat, targets, index, nnf, cost, valid, snap, patch, passes, seed)
    sources[targets[:, 0], targets[:, 1]] = nnf
    err = cost / (2 * patch + 1) ** 2
    confidence[targets[:, 0], targets[:, 1]] = np.exp2(-err / max(2.0 * float(np.median(err)), 1e-6))
    return sources, confidence


def valid_sources(mask: np.ndarray, r: int) -> np.ndarray:
    """Centres whose whole ``(2r+1)^2`` patch is known and inside the window."""
    grown = mask.copy()
    for axis in (0, 1):  # square dilation by r: a separable running max
        padded = np.pad(grown, [(r, r) if a == axis else (0, 0) for a in range(2)])
        acc = np.zeros_like(grown)
        n = grown.shape[axis]
        for d in range(2 * r + 1):
            acc |= padded[d : d + n] if axis == 0 else padded[:, d : d + n]
        grown = acc
    valid = ~grown
    valid[:r], valid[-r:], valid[:, :r], valid[:, -r:] = False, False, False, False
    return valid


def features(colour: np.ndarray) -> np.ndarray:
    """float32 ``H x W x 5``: colour in [0, 1] and the luminance's central differences (structure counts too)."""
    c = colour / 255.0
    lum = c @ np.array([0.299, 0.587, 0.114], np.float32)
    p = np.pad(lum, 1, mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * 0.5
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * 0.5
    return np.ascontiguousarray(np.concatenate([c, gx[..., None], gy[..., None]], axis=2), dtype=np.float32)


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
def _cost(feat, ty, tx, sy, sx, r, bound):  # type: ignore[no-untyped-def]
    """Squared feature distance between the patches at ``(ty, tx)`` and ``(sy, sx)`` (target pixels inside the
    window only); stops early above ``bound``."""
    h, w, c = feat.shape
    d = 0.0
    for dy in range(-r, r + 1):
        y = ty + dy
        if y < 0 or y >= h:
            continue
        ys = sy + dy
        for dx in range(-r, r + 1):
            x = tx + dx
            if x < 0 or x >= w:
                continue
            for k in range(c):
                t = feat[y, x, k] - feat[ys, sx + dx, k]
                d += t * t
        if d > bound:
            return d
    return d


@njit(cache=True)
def initial_costs(feat, targets, nnf, r):  # type: ignore[no-untyped-def]
    """The cost of every target's current source (float32 ``N``)."""
    n = targets.shape[0]
    cost = np.empty(n, np.float32)
    for i in range(n):
        cost[i] = _cost(feat, targets[i, 0], targets[i, 1], nnf[i, 0], nnf[i, 1], r, np.inf)
    return cost


@njit(cache=True)
def search(feat, targets, index, nnf, cost, valid, snap, r, passes, seed):  # type: ignore[no-untyped-def]
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
                d = _cost(feat, ty, tx, cy, cx, r, bc)
                if d < bc:
                    by, bx, bc = cy, cx, d
            # random search around the best at halving radii
            rad = radius0
            while rad >= 1:
                cy = min(max(by + np.random.randint(-rad, rad + 1), 0), h - 1)
                cx = min(max(bx + np.random.randint(-rad, rad + 1), 0), w - 1)
                cy, cx = snap[cy, cx, 0], snap[cy, cx, 1]
                if cy != by or cx != bx:
                    d = _cost(feat, ty, tx, cy, cx, r, bc)
                    if d < bc:
                        by, bx, bc = cy, cx, d
                rad //= 2
            nnf[i, 0], nnf[i, 1], cost[i] = by, bx, bc
