"""The texture stage: only the hole changes, it adds detail a smooth fill lacks, deterministic, any size, options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from gmcnn.errors import UserError
from gmcnn.evaluation.realism import RealismPool, grad_ratio
from gmcnn.inpainting import texture as T
from gmcnn.inpainting.image import rgb_to_tensor, tensor_to_rgb
from gmcnn.inpainting.options import FillOptions


@pytest.fixture(scope="module")
def case() -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """A real textured photo crop (256 x 200), a hole, and a smooth coarse fill (a blur of the truth)."""
    truth = np.ascontiguousarray(data.chelsea()[50:306, 100:300])
    hole = np.zeros(truth.shape[:2], dtype=bool)
    hole[80:170, 60:140] = True
    coarse = T.gaussian_blur(rgb_to_tensor(truth), 6.0)
    return truth, hole, coarse


def test_only_the_hole_changes_and_detail_is_added(case):
    truth, hole, coarse = case
    given = truth.copy()
    given[hole] = 255  # what is under the hole must not matter
    out = T.synthesize(coarse, given, hole, seed=0)
    assert out.shape == coarse.shape
    torch.testing.assert_close(out[:, :, ~torch.from_numpy(hole)], coarse[:, :, ~torch.from_numpy(hole)])
    filled = truth.copy()
    filled[hole] = tensor_to_rgb(out)[hole]
    smooth = truth.copy()
    smooth[hole] = tensor_to_rgb(coarse)[hole]
    assert grad_ratio(smooth, truth, hole) < 0.3 < grad_ratio(filled, truth, hole)
    pools = [RealismPool(), RealismPool()]
    pools[0].add(smooth, truth, hole)
    pools[1].add(filled, truth, hole)
    assert pools[1].swd() < 0.7 * pools[0].swd()
    # The low-pass is the coarse fill's: the blend follows the structure it is given.
    sigma = T.BLEND_FRACTION * 90  # the hole's longer side
    low = T.gaussian_blur(out, sigma)[:, :, 100:150, 80:120]
    assert (low - T.gaussian_blur(coarse, sigma)[:, :, 100:150, 80:120]).abs().mean() < 0.05


def test_wide_lowpass_is_close_to_the_exact_blur(case):
    truth, _, _ = case
    x = rgb_to_tensor(truth)
    for sigma in (3.0, 12.0, 30.0):
        assert (T.lowpass(x, sigma) - T.gaussian_blur(x, sigma)).abs().mean() < 0.01  # < 1.3 grey levels


def test_deterministic_for_a_seed(case):
    truth, hole, coarse = case
    a = T.synthesize(coarse, truth, hole, seed=3)
    assert torch.equal(a, T.synthesize(coarse, truth, hole, seed=3))


def test_off_empty_and_full_holes_pass_through(case):
    truth, hole, coarse = case
    assert T.synthesize(coarse, truth, hole, mode="off") is coarse
    assert T.synthesize(coarse, truth, np.zeros_like(hole)) is coarse
    assert T.synthesize(coarse, truth, np.ones_like(hole)) is coarse
    with pytest.raises(ValueError, match="unknown texture mode"):
        T.synthesize(coarse, truth, hole, mode="bogus")
    with pytest.raises(ValueError, match="disagree"):
        T.synthesize(coarse[:, :, :-1], truth, hole)


def test_large_windows_are_matched_at_max_side(case):
    truth, hole, _ = case
    big = np.asarray(Image.fromarray(truth).resize((700, 900)))  # taller than MAX_SIDE
    big_hole = np.asarray(Image.fromarray(hole).resize((700, 900), Image.Resampling.NEAREST))
    out = T.patchmatch_fill(big, big_hole, seed=0)
    assert out.shape == big.shape and out.dtype == np.uint8
    assert np.abs(out[big_hole].astype(int) - 255).mean() > 50  # filled, not left white


def test_inpainter_option(inpainter, photo):
    hole = np.zeros(photo.shape[:2], dtype=bool)
    hole[200:280, 220:300] = True
    plain = inpainter(photo, hole)
    textured = inpainter(photo, hole, texture="patch")
    np.testing.assert_array_equal(textured[~hole], photo[~hole])
    assert not np.array_equal(plain[hole], textured[hole])
    with pytest.raises(UserError, match="unknown texture"):
        inpainter(photo, hole, texture="bogus")
    result = inpainter.fill(photo, hole, FillOptions(texture="patch"))
    assert result.stages == ["model", "texture", "composite"] and result.timings["texture"] > 0
    np.testing.assert_array_equal(result.image, textured)  # deterministic through the pipeline too
