"""The numba kernels: nearest valid pixel, PatchMatch finds an exact copy; the sources of a copied patch."""

from __future__ import annotations

import numpy as np
from skimage import data

from gmcnn.inpainting import patch_search as ps


def test_nearest_valid_is_a_nearest_valid_pixel():
    rng = np.random.default_rng(0)
    valid = rng.random((30, 40)) < 0.05
    near = ps.nearest_valid(valid)
    ys, xs = np.nonzero(valid)
    for y, x in [(0, 0), (15, 20), (29, 39), (3, 31)]:
        best = np.min(np.abs(ys - y) + np.abs(xs - x))
        ny, nx = near[y, x]
        assert valid[ny, nx] and abs(ny - y) + abs(nx - x) == best
    assert (ps.nearest_valid(np.zeros((3, 3), bool)) == -1).all()


def test_search_finds_the_exact_copy_of_a_patch():
    rng = np.random.default_rng(1)
    feat = rng.random((60, 60, 3)).astype(np.float32)
    feat[40:47, 40:47] = feat[10:17, 20:27]  # the target patch around (43, 43) exists at (13, 23)
    valid = np.zeros((60, 60), bool)
    valid[3:30, 3:57] = True  # sources: the top part only
    targets = np.array([[43, 43]], np.int32)
    index = np.full((60, 60), -1, np.int32)
    index[43, 43] = 0
    nnf = np.array([[5, 5]], np.int32)
    cost = ps.initial_costs(feat, targets, nnf, 3)
    for seed in range(40):  # random search: a few hundred draws over 27 x 54 sources
        ps.search(feat, targets, index, nnf, cost, valid, ps.nearest_valid(valid), 3, 4, seed)
    assert tuple(nnf[0]) == (13, 23) and cost[0] == 0.0


def test_a_pasted_block_names_where_it_was_pasted_from():
    """On a photo (PatchMatch needs the coherence of real images; pure noise gives it nothing to propagate)."""
    image = data.astronaut()[200:296, 150:246].astype(np.float32)
    hole = np.zeros((96, 96), bool)
    hole[60:72, 60:72] = True
    image[52:80, 52:80] = image[4:32, 10:38]  # the hole and its ring are a copy of a known block
    sources, confidence = ps.copied_from(image, hole, seed=0)
    assert (sources[hole] == np.argwhere(hole) - [48, 42]).all()  # every filled pixel: where it was copied from
    assert (confidence[hole] > 0.99).all() and (confidence[~hole] == 1).all() and (sources[~hole] == -1).all()
