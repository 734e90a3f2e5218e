"""Realism measures: hole SWD (truth 0, blur high, the truth's own patches rearranged low) and the gradient ratio."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage import data

from gmcnn.evaluation import realism as R

SIZE, TOP, SIDE = 256, 64, 128


@pytest.fixture(scope="module")
def cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Real photo crops (truths) with a centred square hole each."""
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[TOP : TOP + SIDE, TOP : TOP + SIDE] = True
    out = []
    for p in photos:
        crop = Image.fromarray(p).resize((2 * SIZE, 2 * SIZE * p.shape[0] // p.shape[1]))
        out.append((np.asarray(crop)[:SIZE, SIZE // 2 : SIZE // 2 + SIZE].copy(), mask))
    return out


def _in_hole(fill: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = truth.copy()
    out[mask] = fill[mask]
    return out


def _blur(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return _in_hole(np.asarray(Image.fromarray(truth).filter(ImageFilter.GaussianBlur(3))), truth, mask)


def _mirrored(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The truth's own hole content, mirrored left-right: its patches moved (and flipped) elsewhere."""
    out = truth.copy()
    sl = (slice(TOP, TOP + SIDE), slice(TOP, TOP + SIDE))
    out[sl] = truth[sl][:, ::-1]
    return out


def _rolled(truth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The truth's own hole content, its four quadrants swapped (a circular shift by half the hole: new seams)."""
    out = truth.copy()
    sl = (slice(TOP, TOP + SIDE), slice(TOP, TOP + SIDE))
    out[sl] = np.roll(truth[sl], (SIDE // 2, SIDE // 2), axis=(0, 1))
    return out


def _pooled(fn, cases) -> R.RealismPool:  # type: ignore[no-untyped-def]
    pool = R.RealismPool()
    for truth, mask in cases:
        pool.add(fn(truth, mask), truth, mask)
    return pool


def test_truth_scores_zero(cases):
    pool = _pooled(lambda t, m: t, cases)
    assert pool.swd() == 0.0
    assert pool.grad_ratio() == 1.0
    assert R.hole_swd([t for t, _ in cases], [t for t, _ in cases], [m for _, m in cases]) == 0.0


def test_blur_scores_high_and_rearranged_truth_low(cases):
    blur = _pooled(_blur, cases).swd()
    mirrored = _pooled(_mirrored, cases).swd()
    rolled = _pooled(_rolled, cases).swd()
    assert blur > 0.2
    assert 0 < mirrored < 0.35 * blur
    assert mirrored < rolled < 0.75 * blur  # seams inside the hole cost something, far less than blur
    # PSNR says the opposite: the point of the measure.
    from gmcnn.evaluation.metrics import psnr

    t, m = cases[0]
    assert psnr(_blur(t, m), t, m) > psnr(_mirrored(t, m), t, m)


def test_shuffled_patches_of_the_truth_score_low(cases):
    """Patch order does not matter, and a random half of the truth's patches is close to all of them."""
    pool = _pooled(lambda t, m: t, cases)
    rng = np.random.default_rng(0)
    for level in range(R.LEVELS):
        truth = np.concatenate([p[level] for p in pool.truth])
        shuffled = truth[rng.permutation(len(truth))]
        assert R.sliced_wasserstein(shuffled, truth) == pytest.approx(0.0, abs=1e-6)
        half = shuffled[: len(shuffled) // 2]
        blurred = np.concatenate([p[level] for p in _pooled(_blur, cases).fill])
        assert R.sliced_wasserstein(half, truth) < 0.25 * R.sliced_wasserstein(blurred, truth) + 0.02


def test_gradient_ratio_orders_blur_truth_noise(cases):
    truth, mask = cases[1]
    noisy = np.clip(truth + np.random.default_rng(0).normal(0, 20, truth.shape), 0, 255).astype(np.uint8)
    assert R.grad_ratio(_blur(truth, mask), truth, mask) < 0.5
    assert R.grad_ratio(truth, truth, mask) == 1.0
    assert R.grad_ratio(_in_hole(noisy, truth, mask), truth, mask) > 1.5


def test_pooled_values_and_keys(cases):
    pool = R.RealismPool()
    for i, (truth, mask) in enumerate(cases):
        row = pool.add(_blur(truth, mask), truth, mask, key="a" if i < 2 else "b")
        assert set(row) == set(R.REALISM_NAMES) and row["swd_hole"] > 0
    assert pool.swd("a") != pool.swd("b")
    energies = pool.energy[:2]
    assert pool.grad_ratio("a") == pytest.approx(sum(e[0] for e in energies) / sum(e[1] for e in energies))
    with pytest.raises(ValueError, match="no case"):
        pool.swd("c")


def test_deterministic_and_seeded(cases):
    a = _pooled(_blur, cases).swd()
    assert a == _pooled(_blur, cases).swd()
    other = R.RealismPool(seed=1)
    for truth, mask in cases:
        other.add(_blur(truth, mask), truth, mask)
    assert other.swd() != a and abs(other.swd() - a) < 0.1 * a  # another seed: another estimate, close


def test_pyramid_reconstructs_the_image(cases):
    truth, _ = cases[0]
    levels = R.laplacian_pyramid(truth)
    assert [lv.shape[:2] for lv in levels] == [(256, 256), (128, 128), (64, 64)]
    g = levels[-1]
    for lap in reversed(levels[:-1]):
        g = lap + R._up(g, lap.shape)
    assert np.allclose(g, truth / 255.0)


def test_bad_inputs(cases):
    truth, mask = cases[0]
    with pytest.raises(ValueError, match="non-empty bool"):
        R.RealismPool().add(truth, truth, np.zeros_like(mask))
    with pytest.raises(ValueError, match="uint8"):
        R.grad_ratio(truth.astype(np.float32), truth, mask)
