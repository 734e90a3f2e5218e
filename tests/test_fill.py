"""The push-pull smooth fill: known pixels kept, holes filled smoothly from their surroundings, any size."""

from __future__ import annotations

import pytest
import torch

from gmcnn.models.fill import smooth_fill


def hole(h: int, w: int, box: tuple[int, int, int, int]) -> torch.Tensor:
    m = torch.zeros(1, 1, h, w)
    top, left, bottom, right = box
    m[..., top:bottom, left:right] = 1
    return m


@pytest.mark.parametrize("size", [(64, 64), (67, 45), (300, 520)])
def test_known_pixels_are_kept_and_the_hole_is_filled(size: tuple[int, int]) -> None:
    h, w = size
    image = torch.rand(2, 3, h, w)
    mask = hole(h, w, (h // 4, w // 4, h // 2, w // 2)).expand(2, 1, h, w)
    out = smooth_fill(image, mask)
    assert out.shape == image.shape and torch.isfinite(out).all()
    torch.testing.assert_close(out * (1 - mask), image * (1 - mask))
    # The fill lies within the range of the known colours (a convex blend of them).
    assert out.min() >= image.min() - 1e-6 and out.max() <= image.max() + 1e-6


def test_what_lies_under_the_hole_is_ignored() -> None:
    image = torch.rand(1, 3, 48, 48)
    mask = hole(48, 48, (10, 10, 30, 30))
    other = image.clone()
    other[..., 10:30, 10:30] = 5.0
    torch.testing.assert_close(smooth_fill(image, mask), smooth_fill(other, mask))


def test_constant_image_gives_a_constant_fill() -> None:
    image = torch.full((1, 3, 40, 40), 0.3)
    out = smooth_fill(image, hole(40, 40, (5, 5, 35, 35)))
    torch.testing.assert_close(out, image)


def test_fill_follows_a_ramp_across_the_hole() -> None:
    """Left side dark, right side bright: the fill rises from left to right like an interpolation would."""
    ramp = torch.linspace(0, 1, 64).expand(1, 3, 64, 64).clone()
    mask = hole(64, 64, (16, 16, 48, 48))
    row = smooth_fill(ramp, mask)[0, 0, 32, 16:48]
    assert (row[1:] - row[:-1] >= -1e-3).all()  # monotone (up to bilinear ripples)
    assert row[0] < 0.4 and row[-1] > 0.6
    assert (row - ramp[0, 0, 32, 16:48]).abs().max() < 0.1


def test_a_hole_larger_than_the_pyramid_gets_the_mean_known_colour() -> None:
    image = torch.zeros(1, 3, 600, 600)
    image[..., :4, :] = 1.0  # the only known pixels: a bright strip along the top
    mask = torch.ones(1, 1, 600, 600)
    mask[..., :4, :] = 0
    out = smooth_fill(image, mask, levels=3)
    torch.testing.assert_close(out[..., 300:, :], torch.ones(1, 3, 300, 600))
