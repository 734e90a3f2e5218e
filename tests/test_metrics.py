"""Metrics: known values, MATLAB semantics of SSIM on RGB, and parity with scikit-image where they agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage
from skimage import data
from skimage.metrics import structural_similarity

from gmcnn.evaluation import metrics as M

SKIMAGE_ARGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False, "data_range": 255}


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real photo crop, a damaged copy (noise + a flat patch in the hole) and the hole mask."""
    target = data.astronaut()[100:196, 150:270].copy()  # 96 x 120, not square on purpose
    rng = np.random.default_rng(0)
    hole = np.zeros(target.shape[:2], dtype=bool)
    hole[30:70, 40:100] = True
    output = np.clip(target.astype(int) + rng.normal(0, 6, target.shape), 0, 255).astype(np.uint8)
    output[hole] = target[hole].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return output, target, hole


def _scipy_ssim_map(x: np.ndarray, y: np.ndarray, axes_sigma: tuple[float, ...]) -> np.ndarray:
    """Independent SSIM (eq. 13) with scipy's Gaussian; mode 'nearest' = MATLAB's 'replicate', radius 5."""
    x, y = x.astype(np.float64), y.astype(np.float64)

    def f(v: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(v, sigma=axes_sigma, mode="nearest", truncate=5 / 1.5)

    mx, my = f(x), f(y)
    vx, vy, cxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def test_psnr_and_l1_known_values(pair):
    _, target, hole = pair
    output = target.copy()
    values = target[hole].astype(int)
    output[hole] = np.where(values < 128, values + 10, values - 10)  # every hole value moves by exactly 10
    assert M.psnr(output, target, hole) == pytest.approx(10 * math.log10(255**2 / 100))
    assert M.l1(output, target, hole) == pytest.approx(10 / 255)
    fraction = hole.mean()
    assert M.psnr(output, target) == pytest.approx(10 * math.log10(255**2 / (100 * fraction)))
    assert M.l1(output, target) == pytest.approx(10 / 255 * fraction)
    assert M.psnr(target, target) == math.inf
    assert M.l1(target, target) == 0.0


def test_gaussian_kernel_is_matlabs():
    k = M.gaussian_kernel()
    assert k.shape == (11,)  # MATLAB: filtSize = 2*ceil(3*1.5)+1
    x = np.arange(-5, 6)
    expected = np.exp(-(x**2) / (2 * 1.5**2))
    np.testing.assert_allclose(k, expected / expected.sum(), rtol=1e-12)


def test_ssim_of_identical_images_is_one(pair):
    _, target, hole = pair
    assert M.ssim(target, target) == pytest.approx(1.0)
    assert M.ssim(target, target, hole) == pytest.approx(1.0)
    assert M.ssim_per_channel(target, target) == pytest.approx(1.0)


def test_ssim_rgb_is_matlab_3d_volume(pair):
    """MATLAB treats an RGB array as a volume: 3-D Gaussian (also across R, G, B), replicate padding, full mean."""
    output, target, _ = pair
    expected = _scipy_ssim_map(output, target, (1.5, 1.5, 1.5))
    np.testing.assert_allclose(M.ssim_map(output, target), expected, atol=1e-10)
    assert M.ssim(output, target) == pytest.approx(expected.mean(), abs=1e-12)


def test_ssim_grayscale_matches_skimage_away_from_border(pair):
    """On one channel MATLAB and scikit-image share the window; only the border padding differs."""
    output, target, _ = pair
    ours = M.ssim_map(output[..., 1], target[..., 1])
    _, theirs = structural_similarity(output[..., 1], target[..., 1], full=True, **SKIMAGE_ARGS)
    np.testing.assert_allclose(ours[5:-5, 5:-5], theirs[5:-5, 5:-5], atol=1e-10)
    assert not np.allclose(ours[:5], theirs[:5])  # replicate vs reflect padding: the border must differ


def test_grey_rgb_volume_equals_2d(pair):
    """With R = G = B the cross-channel filter sees a constant, so the 3-D map equals the 2-D one in each channel."""
    output, target, _ = pair
    grey_out = np.repeat(output[..., :1], 3, axis=2)
    grey_tgt = np.repeat(target[..., :1], 3, axis=2)
    volume = M.ssim_map(grey_out, grey_tgt)
    flat = M.ssim_map(output[..., 0], target[..., 0])
    for c in range(3):
        np.testing.assert_allclose(volume[..., c], flat, atol=1e-10)


def test_per_channel_ssim_equals_skimage(pair):
    output, target, _ = pair
    theirs = structural_similarity(output, target, channel_axis=-1, **SKIMAGE_ARGS)
    assert M.ssim_per_channel(output, target) == pytest.approx(theirs, abs=1e-10)


def test_matlab_and_skimage_ssim_really_differ_on_a_flat_fill(pair):
    """Guards against silently computing the per-channel form: on a flat fill the two differ clearly."""
    output, target, hole = pair
    assert M.ssim(output, target, hole) - M.ssim_per_channel(output, target, hole) > 0.05


def test_hole_ssim_is_mean_of_map_over_hole(pair):
    output, target, hole = pair
    smap = M.ssim_map(output, target)
    assert M.ssim(output, target, hole) == pytest.approx(smap[hole].mean())
    assert M.ssim(output, target, hole) < M.ssim(output, target)  # the damage is concentrated in the hole


def test_all_metrics_consistent_with_single_functions(pair):
    output, target, hole = pair
    values = M.all_metrics(output, target, hole)
    assert tuple(values) == M.METRIC_NAMES
    assert values["psnr"] == pytest.approx(M.psnr(output, target))
    assert values["ssim_hole"] == pytest.approx(M.ssim(output, target, hole))
    assert values["l1_hole"] == pytest.approx(M.l1(output, target, hole))
    assert values["ssim_skimage"] == pytest.approx(M.ssim_per_channel(output, target))
    assert values["ssim_skimage_hole"] == pytest.approx(M.ssim_per_channel(output, target, hole))


@pytest.mark.parametrize(
    "bad",
    [
        lambda o, t, h: M.psnr(o[:-1], t),  # shape mismatch
        lambda o, t, h: M.ssim(o.astype(np.float32), t.astype(np.float32)),  # not uint8
        lambda o, t, h: M.l1(o, t, np.zeros_like(h)),  # empty hole
        lambda o, t, h: M.psnr(o, t, h.astype(np.uint8)),  # mask not bool
        lambda o, t, h: M.ssim(o[..., :2], t[..., :2]),  # two channels
    ],
)
def test_bad_inputs_raise(pair, bad):
    with pytest.raises(ValueError):
        bad(*pair)
