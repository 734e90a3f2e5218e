"""The seam blend: a copied patch fill that sits darker than its surroundings meets the border without a step."""

from __future__ import annotations

import numpy as np

from gmcnn.inpainting.seam import blend_seam


def _grow(mask: np.ndarray, r: int) -> np.ndarray:
    out = mask.copy()
    for y, x in np.argwhere(mask):
        out[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1] = True
    return out


def test_the_seam_blend_removes_a_brightness_step_at_the_border():
    # Patches copied from a darker part of a sky: without the blend the hole shows as a dark box.
    rng = np.random.default_rng(0)
    colour = np.where(np.arange(120)[:, None, None] < 50, 100.0, 160.0) + rng.normal(0, 2, (120, 100, 3))
    colour = colour.astype(np.float32)
    mask = np.zeros((120, 100), bool)
    mask[70:100, 30:70] = True
    targets = np.argwhere(_grow(mask, 3)).astype(np.int32)
    nnf = (targets - np.array([60, 0])).astype(np.int32)  # 60 rows up: the dark part
    copied = colour.copy()
    inside = mask[targets[:, 0], targets[:, 1]]
    copied[targets[inside, 0], targets[inside, 1]] = colour[nnf[inside, 0], nnf[inside, 1]]
    blended = blend_seam(copied, colour, mask, targets, nnf)

    def step(image: np.ndarray) -> float:  # mean difference across the hole's four edges
        return float(
            np.abs(image[70:100, 30] - image[70:100, 29]).mean() + np.abs(image[70:100, 69] - image[70:100, 70]).mean()
            + np.abs(image[70, 30:70] - image[69, 30:70]).mean() + np.abs(image[99, 30:70] - image[100, 30:70]).mean()
        ) / 4  # fmt: skip

    assert step(copied) > 50 and step(blended) < 6
    np.testing.assert_array_equal(blended[~mask], colour[~mask])
