"""Realism of a fill without a pretrained network: hole SWD and the hole gradient-energy ratio.

Hole PSNR and SSIM reward blur (the perception-distortion trade-off, Blau & Michaeli, CVPR 2018): the mean of
all plausible fills scores best and looks like none of them. These two measures compare the *statistics* of
the fill with those of the truth instead, so a fill with the right kind of texture in the wrong place scores
well and a smooth colour wash scores badly.

**Hole SWD** (sliced Wasserstein distance between hole patches, after Karras et al., ICLR 2018), exactly:

1. *Pyramid.* Each image (uint8 RGB, taken as float in [0, 1]) is split into a **3-level Laplacian pyramid**:
   ``G0`` = the image, ``G(k+1)`` = ``G(k)`` blurred by the 5-tap binomial ``[1, 4, 6, 4, 1] / 16`` (separable,
   reflect padding) and subsampled by 2; the levels are ``L0 = G0 - up(G1)``, ``L1 = G1 - up(G2)`` and
   ``L2 = G2`` (the low-pass residual at a quarter of the size), where ``up`` inserts zeros and blurs with
   twice the kernel (Burt & Adelson).
2. *Hole patches.* At level ``k`` the hole is the set of pixels whose ``2^k x 2^k`` block holds a hole
   pixel. Every such pixel is a patch centre; the patch is the **7 x 7 x 3** neighbourhood (reflect padding
   at the image border) flattened to 147 values. At most :data:`MAX_PATCHES` centres per level and case are
   kept, drawn without replacement from ``np.random.default_rng([seed, k])``; the choice depends only on the
   mask, so the fill and the truth give patches at the *same* places.
3. *Normalisation.* Per level, each of the 147 dimensions is shifted and scaled by the **truth's** mean and
   standard deviation over the pooled truth patches (``std + 1e-3`` against flat holes); the fill's patches
   get the same transform, so the truth's patches have zero mean and unit variance in every dimension.
4. *Slicing.* :data:`PROJECTIONS` = 512 random directions (Gaussian vectors scaled to unit length, drawn from
   ``np.random.default_rng(seed)``, the same for every method and level) project both patch sets to 1-D.
5. *Quantile matching.* Each projection is summarised by :data:`QUANTILES` = 256 quantiles at the
   probabilities ``(i + 0.5) / 256`` (linear interpolation); the 1-D Wasserstein-1 distance is the mean
   absolute difference of the fill's and the truth's quantiles.
6. The level's SWD is the mean over the projections; **hole SWD is the mean over the 3 levels**. 0 means the
   hole patches of the fill are distributed like the truth's; larger is less realistic. The default seed is 0.

*Pooled vs per case.* ``gmcnn eval`` reports the **pooled** hole SWD per method (and per coverage bin): the
patches of all cases of a protocol are put together (steps 3-6 run once on the union, normalised by the
union of the truth's patches). This is the headline number, because one 128 x 128 hole holds too few
patches for a stable distribution. ``results.csv`` also has a per-case ``swd_hole`` (steps 3-6 on that case's
patches alone, normalised by that case's truth); their mean is noisier and not the same number.

**Gradient-energy ratio** (``grad_ratio_hole``): the sum over the hole of the squared forward differences
(horizontal and vertical, every RGB channel, only pairs whose two pixels are both in the hole) of the fill,
divided by the same sum for the truth. 1 is the truth's amount of detail; a smooth fill is far below 1, noise
above. Per case it is that case's ratio; pooled (the tables) it is the ratio of the energies summed over all
cases, so large holes weigh more.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from gmcnn.evaluation.metrics import gaussian_filter

LEVELS: Final = 3
PATCH: Final = 7
PROJECTIONS: Final = 512
QUANTILES: Final = 256
MAX_PATCHES: Final = 1024
STD_FLOOR: Final = 1e-3
SEED: Final = 0
_BINOMIAL: Final = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 5-tap filter over the first two axes, reflect padding, output the same size."""
    return gaussian_filter(x, kernel, axes=(0, 1), pad_mode="reflect")


def _up(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-insertion upsampling to ``shape`` followed by the binomial blur with gain 4 (2 per axis)."""
    up = np.zeros(shape, dtype=x.dtype)
    up[::2, ::2] = x[: (shape[0] + 1) // 2, : (shape[1] + 1) // 2]
    return _blur(up, 2.0 * _BINOMIAL)


def laplacian_pyramid(image: np.ndarray, levels: int = LEVELS) -> list[np.ndarray]:
    """The Laplacian pyramid of a uint8 ``H x W x 3`` image as float64 in [0, 1] units (finest level first)."""
    g = image.astype(np.float64) / 255.0
    out = []
    for _ in range(levels - 1):
        low = _blur(g, _BINOMIAL)[::2, ::2]
        out.append(g - _up(low, g.shape))
        g = low
    out.append(g)
    return out


def _level_masks(mask: np.ndarray, levels: int) -> list[np.ndarray]:
    """The hole at each pyramid level: a pixel is in it when its ``2^k x 2^k`` block holds a hole pixel."""
    out = [mask]
    for _ in range(levels - 1):
        m = out[-1]
        h, w = (m.shape[0] + 1) // 2, (m.shape[1] + 1) // 2
        p = np.zeros((2 * h, 2 * w), dtype=bool)
        p[: m.shape[0], : m.shape[1]] = m
        out.append(np.asarray(p.reshape(h, 2, w, 2).any(axis=(1, 3))))
    return out


def patch_positions(mask: np.ndarray, *, seed: int = SEED, max_patches: int = MAX_PATCHES) -> list[np.ndarray]:
    """Per level, the ``(n, 2)`` (row, column) patch centres inside the hole (a seeded subset of at most
    ``max_patches``)."""
    out = []
    for k, m in enumerate(_level_masks(mask, LEVELS)):
        pos = np.argwhere(m)
        if len(pos) > max_patches:
            keep = np.random.default_rng([seed, k]).choice(len(pos), max_patches, replace=False)
            pos = pos[np.sort(keep)]
        out.append(pos)
    return out


def hole_patches(image: np.ndarray, positions: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per level, the flattened ``7 x 7 x 3`` Laplacian patches of ``image`` at ``positions``, float32 ``(n, 147)``."""
    r = PATCH // 2
    out = []
    for level, pos in zip(laplacian_pyramid(image), positions, strict=True):
        padded = np.pad(level, ((r, r), (r, r), (0, 0)), mode="reflect")
        windows = np.lib.stride_tricks.sliding_window_view(padded, (PATCH, PATCH), axis=(0, 1))  # h, w, 3, 7, 7
        out.append(windows[pos[:, 0], pos[:, 1]].reshape(len(pos), -1).astype(np.float32))
    return out


def _directions(dim: int, seed: int) -> np.ndarray:
    d = np.random.default_rng(seed).standard_normal((dim, PROJECTIONS))
    return (d / np.linalg.norm(d, axis=0, keepdims=True)).astype(np.float32)


def sliced_wasserstein(fill: np.ndarray, truth: np.ndarray, *, seed: int = SEED) -> float:
    """SWD between two patch sets ``(n, d)`` and ``(m, d)``, normalised by ``truth``'s per-dimension statistics."""
    if len(fill) == 0 or len(truth) == 0:
        raise ValueError("both patch sets need at least one patch")
    mean = truth.mean(axis=0)
    std = truth.std(axis=0) + STD_FLOOR
    directions = _directions(truth.shape[1], seed)
    qf = _quantiles(((fill - mean) / std) @ directions)
    qt = _quantiles(((truth - mean) / std) @ directions)
    return float(np.mean(np.abs(qf - qt)))


def _quantiles(values: np.ndarray) -> np.ndarray:
    """The :data:`QUANTILES` quantiles of every column, as ``np.quantile(..., method="linear")`` (but faster)."""
    ordered = np.sort(np.ascontiguousarray(values.T), axis=1)  # sorting along contiguous rows is faster
    n = ordered.shape[1]
    at = (np.arange(QUANTILES) + 0.5) / QUANTILES * (n - 1)
    low = np.floor(at).astype(np.int64)
    high = np.minimum(low + 1, n - 1)
    frac = at - low
    return (ordered[:, low] * (1.0 - frac) + ordered[:, high] * frac).T


def gradient_energy(image: np.ndarray, mask: np.ndarray) -> float:
    """Sum of squared forward differences (both axes, all channels, [0, 1] units) over pairs inside the hole."""
    x = image.astype(np.float64) / 255.0
    dy = (x[1:] - x[:-1]) ** 2
    dx = (x[:, 1:] - x[:, :-1]) ** 2
    both_y = mask[1:] & mask[:-1]
    both_x = mask[:, 1:] & mask[:, :-1]
    return float(dy[both_y].sum() + dx[both_x].sum())


@dataclass
class RealismPool:
    """Hole patches and gradient energies of fills and their truths, pooled over the cases added.

    ``add`` one case at a time (the same masks for every method); :meth:`swd` and :meth:`grad_ratio` then
    give the pooled numbers (see the module docstring). Cases can be selected by key, e.g. a coverage bin.
    """

    seed: int = SEED
    fill: list[list[np.ndarray]] = field(default_factory=list)
    truth: list[list[np.ndarray]] = field(default_factory=list)
    energy: list[tuple[float, float]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def add(self, fill: np.ndarray, truth: np.ndarray, mask: np.ndarray, *, key: str = "all") -> dict[str, float]:
        """Add one case; returns its per-case ``swd_hole`` and ``grad_ratio_hole``."""
        _check(fill, truth, mask)
        pos = patch_positions(mask, seed=self.seed)
        fp, tp = hole_patches(fill, pos), hole_patches(truth, pos)
        energies = (gradient_energy(fill, mask), gradient_energy(truth, mask))
        self.fill.append(fp)
        self.truth.append(tp)
        self.energy.append(energies)
        self.keys.append(key)
        return {"swd_hole": _swd_levels(fp, tp, self.seed), "grad_ratio_hole": _ratio(*energies)}

    def _chosen(self, key: str | Collection[str] | None) -> list[int]:
        keys = None if key is None else {key} if isinstance(key, str) else set(key)
        chosen = [i for i, k in enumerate(self.keys) if keys is None or k in keys]
        if not chosen:
            raise ValueError(f"no case added{'' if key is None else f' with key {key!r}'}")
        return chosen

    def swd(self, key: str | Collection[str] | None = None) -> float:
        """Pooled hole SWD over all cases (or those added with ``key``, or with any of several keys)."""
        chosen = self._chosen(key)
        fill = [np.concatenate([self.fill[i][k] for i in chosen]) for k in range(LEVELS)]
        truth = [np.concatenate([self.truth[i][k] for i in chosen]) for k in range(LEVELS)]
        return _swd_levels(fill, truth, self.seed)

    def grad_ratio(self, key: str | Collection[str] | None = None) -> float:
        """Pooled gradient-energy ratio: summed fill energy / summed truth energy."""
        chosen = self._chosen(key)
        return _ratio(sum(self.energy[i][0] for i in chosen), sum(self.energy[i][1] for i in chosen))


def _swd_levels(fill: Sequence[np.ndarray], truth: Sequence[np.ndarray], seed: int) -> float:
    return float(np.mean([sliced_wasserstein(f, t, seed=seed) for f, t in zip(fill, truth, strict=True)]))


def _ratio(fill_energy: float, truth_energy: float) -> float:
    if truth_energy == 0.0:
        return 1.0 if fill_energy == 0.0 else float("inf")
    return fill_energy / truth_energy


def _check(fill: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> None:
    if fill.shape != truth.shape or fill.dtype != np.uint8 or truth.dtype != np.uint8:
        raise ValueError(f"expected two uint8 images of one shape, got {fill.dtype} {fill.shape}, {truth.dtype} "
                         f"{truth.shape}")  # fmt: skip
    if fill.ndim != 3 or fill.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 RGB images, got shape {fill.shape}")
    if mask.dtype != np.bool_ or mask.shape != fill.shape[:2] or not mask.any():
        raise ValueError(f"mask must be a non-empty bool array of shape {fill.shape[:2]}")


def hole_swd(fills: Sequence[np.ndarray], truths: Sequence[np.ndarray], masks: Sequence[np.ndarray],
             *, seed: int = SEED) -> float:  # fmt: skip
    """Pooled hole SWD of a set of fills against their truths (one mask each); see the module docstring."""
    pool = RealismPool(seed=seed)
    for f, t, m in zip(fills, truths, masks, strict=True):
        pool.add(f, t, m)
    return pool.swd()


def grad_ratio(fill: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Hole gradient-energy ratio of one fill (fill / truth)."""
    _check(fill, truth, mask)
    return _ratio(gradient_energy(fill, mask), gradient_energy(truth, mask))


REALISM_NAMES: Final = ("swd_hole", "grad_ratio_hole")

__all__ = [
    "LEVELS",
    "MAX_PATCHES",
    "PATCH",
    "PROJECTIONS",
    "QUANTILES",
    "REALISM_NAMES",
    "RealismPool",
    "grad_ratio",
    "gradient_energy",
    "hole_patches",
    "hole_swd",
    "laplacian_pyramid",
    "patch_positions",
    "sliced_wasserstein",
]
