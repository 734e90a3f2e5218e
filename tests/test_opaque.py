"""The largest opaque rectangle of a photo cut-out (Tux Paint stamps), checked against brute force."""

from __future__ import annotations

import itertools

import numpy as np

from gmcnn.data.opaque import largest_opaque_rect


def _brute_force(ok: np.ndarray, bias: float) -> float:
    best = 0.0
    h, w = ok.shape
    for y0, y1 in itertools.combinations_with_replacement(range(h), 2):
        for x0, x1 in itertools.combinations_with_replacement(range(w), 2):
            if ok[y0 : y1 + 1, x0 : x1 + 1].all():
                rw, rh = x1 - x0 + 1, y1 - y0 + 1
                best = max(best, bias * min(rw, rh) ** 2 + rw * rh)
    return best


def test_matches_brute_force_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(40):
        alpha = np.where(rng.random((7, 9)) < 0.75, 255, rng.integers(0, 255, (7, 9)))
        x, y, w, h = largest_opaque_rect(alpha)
        assert (alpha[y : y + h, x : x + w] == 255).all()
        assert 4.0 * min(w, h) ** 2 + w * h == _brute_force(alpha == 255, 4.0)


def test_prefers_a_square_over_a_long_sliver_and_ignores_soft_edges() -> None:
    alpha = np.zeros((100, 400), np.uint8)
    alpha[10:20, :] = 255  # a 400 x 10 sliver (area 4000)
    alpha[40:90, 100:150] = 255  # a 50 x 50 square (area 2500)
    alpha[39, 100:150] = 254  # an anti-aliased edge is not opaque
    assert largest_opaque_rect(alpha) == (100, 40, 50, 50)
    assert largest_opaque_rect(np.zeros((5, 5), np.uint8)) == (0, 0, 0, 0)
