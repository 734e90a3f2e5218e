"""Gradient-domain blending of a patch fill's border: no lighter or darker band outlines the hole.

A hole filled by copying patches from elsewhere in the photo keeps the copied content's own gradients but can
sit a few grey levels off the pixels around it (a sky copied from a slightly darker part of the sky), which a
person sees as a box. Gradient-domain (Poisson) cloning fixes that by solving for the fill whose gradients
are the copied ones and whose border matches the photo; its solution is the copy plus a *membrane*: the
border mismatch interpolated smoothly over the hole. This module computes that membrane directly (no
iterations): inverse-distance (Shepard) weights from border points, close to the mean-value membrane of
Farbman et al. 2009, evaluated on a coarse grid and upsampled, because the membrane is smooth.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F

from gmcnn.inpainting import patch_search as ps

SEAM_POINTS: Final = 512  # border points the correction is interpolated from
SEAM_RADIUS: Final = 4  # the step at a border point is the median over the border within this radius
SEAM_GRID: Final = 20_000  # grid points it is evaluated at (then upsampled bilinearly)


def blend_seam(
    out: np.ndarray, colour: np.ndarray, mask: np.ndarray, targets: np.ndarray, nnf: np.ndarray
) -> np.ndarray:
    """``out`` (float32 ``h x w x 3``) with the colour step at the hole's border spread smoothly over the hole.

    For a known pixel ``q`` next to a hole pixel ``p`` the step is ``photo[q] - photo[source(p) + (q - p)]``:
    what is really there minus what the copied patch has there. Averaged per ``q``, and its median over the
    border near ``q`` taken (so a star or a thin line on the border is not smeared into the hole; at most
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
        flat = qy * w + qx
        for ch in range(3):
            step[..., ch] += np.bincount(flat, colour[qy, qx, ch] - colour[sy, sx, ch], h * w).reshape(h, w)
        count += np.bincount(flat, None, h * w).reshape(h, w)
    points = np.argwhere(count > 0).astype(np.int32)
    if not len(points):
        return out
    points = points[:: max(1, len(points) // SEAM_POINTS)]
    values = ps.ring_median(step, count, points, SEAM_RADIUS)
    # The membrane is smooth: evaluate it on a grid of at most SEAM_GRID points over the hole's box, upsample.
    top, left, bottom, right = yy.min(), xx.min(), yy.max() + 1, xx.max() + 1
    f = max(1, math.ceil(math.sqrt((bottom - top) * (right - left) / SEAM_GRID)))
    gy, gx = np.meshgrid(np.arange(top, bottom + f, f), np.arange(left, right + f, f), indexing="ij")
    grid = ps.membrane(points, values.astype(np.float32), np.stack([gy.ravel(), gx.ravel()], 1).astype(np.int32))
    grid_t = torch.from_numpy(grid.reshape(*gy.shape, 3)).permute(2, 0, 1)[None]
    size = ((gy.shape[0] - 1) * f + 1, (gx.shape[1] - 1) * f + 1)
    smooth = F.interpolate(grid_t, size=size, mode="bilinear", align_corners=True)[0].permute(1, 2, 0).numpy()
    result = out.copy()
    result[yy, xx] += smooth[yy - top, xx - left]
    return result


__all__ = ["SEAM_GRID", "SEAM_POINTS", "SEAM_RADIUS", "blend_seam"]
