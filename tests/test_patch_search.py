"""The numba kernels: nearest valid pixel, PatchMatch finds an exact copy, the vote of a constant shift."""

from __future__ import annotations

import numpy as np

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
    weight = np.ones((60, 60), np.float32)
    guide = np.zeros((60, 60, 0), np.float32)
    cost = ps.initial_costs(feat, weight, guide, targets, nnf, 3, 0.0, 0.0, 0.0, 1.0)
    for seed in range(40):  # random search: a few hundred draws over 27 x 54 sources
        ps.search(feat, weight, guide, targets, index, nnf, cost, valid, ps.nearest_valid(valid), 3, 0.0, 0.0, 0.0, 1.0,
                  4, seed)  # fmt: skip
    assert tuple(nnf[0]) == (13, 23) and cost[0] == 0.0


def test_vote_of_a_constant_shift_is_the_shifted_image():
    rng = np.random.default_rng(2)
    colour = rng.random((40, 40, 3)).astype(np.float32)
    hole = np.zeros((40, 40), bool)
    hole[25:32, 25:32] = True
    targets = np.argwhere(hole).astype(np.int32)  # centres inside the hole only
    nnf = (targets - 20).astype(np.int32)
    out = ps.vote(colour, hole, targets, nnf, np.zeros(len(targets), np.float32), 3, 1.0)
    np.testing.assert_allclose(out[hole], colour[5:12, 5:12].reshape(-1, 3), rtol=1e-6)
    np.testing.assert_array_equal(out[~hole], colour[~hole])
