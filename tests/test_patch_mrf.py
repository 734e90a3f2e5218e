"""The VGG-free patch ID-MRF loss: zero on the truth, high on a smooth wash, and differentiable into the fill."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gmcnn.data.datasets import Sample
from gmcnn.losses.patch_mrf import contextual_loss, gather_patches, patch_mrf_loss, sobel
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.training import steps
from gmcnn.training.config import resolve_config


def _textured(seed: int = 0, size: int = 64) -> torch.Tensor:
    """A (2, 3, size, size) image in [-1, 1] with stripes and noise: texture a smooth fill cannot reproduce."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    stripes = torch.sin(x.float() * 0.9 + y.float() * 0.4)
    noise = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    return (0.6 * stripes + 0.4 * noise).clamp(-1, 1)


def _hole(size: int = 64) -> torch.Tensor:
    mask = torch.zeros(2, 1, size, size)
    mask[..., 16:48, 16:48] = 1
    return mask


def test_gather_patches_equals_unfold() -> None:
    maps = torch.rand(5, 9, 11)
    index = torch.tensor([0, 10, 45, 98])
    unfolded = F.unfold(F.pad(maps[None], (2, 2, 2, 2), mode="replicate"), 5)[0]  # (5 * 25, 99)
    assert torch.equal(gather_patches(maps, index, patch=5), unfolded[:, index])


def test_sobel_of_a_horizontal_ramp_is_constant_x_gradient() -> None:
    ramp = torch.linspace(-1, 1, 16).expand(1, 3, 16, 16)
    grad = sobel(ramp)
    step = 2.0 / 15  # per pixel; the kernel is normalised to give the central difference per pixel
    assert torch.allclose(grad[0, 0, :, 1:-1], torch.full((16, 14), step), atol=1e-5)
    assert torch.allclose(grad[0, 1], torch.zeros(16, 16), atol=1e-6)


def test_contextual_loss_is_zero_for_identical_sets_and_grows_with_distance() -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.randn(20, 64, generator=g)
    assert contextual_loss(target, target).item() < 1e-3
    half = target.clone()
    half[:, 32:] = torch.randn(20, 32, generator=g)  # half the target vectors lose their copy
    near = contextual_loss(half, target).item()
    far = contextual_loss(torch.randn(20, 64, generator=g), target).item()
    assert 0.3 < near < far


def test_truth_scores_near_zero_a_blur_or_a_flat_fill_far_higher() -> None:
    image, mask = _textured(), _hole()
    flat = image * (1 - mask) + mask * image.mean(dim=(2, 3), keepdim=True)
    blur = F.avg_pool2d(image, 5, 1, 2, count_include_pad=False) * mask + image * (1 - mask)
    g = torch.Generator().manual_seed(0)
    truth = patch_mrf_loss(image, image, mask, generator=g).item()
    blurred = patch_mrf_loss(blur, image, mask, generator=g).item()
    washed = patch_mrf_loss(flat, image, mask, generator=g).item()
    assert truth < 0.05 < blurred < washed


def test_texture_from_the_same_distribution_beats_a_blur_of_the_truth() -> None:
    """The point of the term: a fill with the right statistics in the wrong place beats a blur in the right one."""
    image, mask = _textured(0), _hole()
    other = _textured(1)  # same stripes, other noise: right texture, wrong pixels
    g = torch.Generator().manual_seed(0)
    texture = patch_mrf_loss(other * mask + image * (1 - mask), image, mask, generator=g).item()
    blur = F.avg_pool2d(image, 7, 1, 3, count_include_pad=False) * mask + image * (1 - mask)
    assert texture < patch_mrf_loss(blur, image, mask, generator=g).item()


def test_gradient_reaches_only_the_hole_and_no_hole_gives_zero() -> None:
    image, mask = _textured(), _hole()
    fill = torch.zeros_like(image, requires_grad=True)
    patch_mrf_loss(fill * mask + image * (1 - mask), image, mask).backward()
    assert fill.grad is not None and fill.grad[mask.expand_as(fill) > 0].abs().sum() > 0
    assert fill.grad[mask.expand_as(fill) == 0].abs().sum() == 0
    empty = patch_mrf_loss(image.clone().requires_grad_(True), image, torch.zeros_like(mask))
    assert empty.item() == 0.0 and empty.requires_grad


def test_subsampling_bounds_locations_and_is_seeded() -> None:
    image, mask = _textured(), _hole()
    fill = F.avg_pool2d(image, 3, 1, 1, count_include_pad=False)
    a = patch_mrf_loss(fill, image, mask, max_locations=64, generator=torch.Generator().manual_seed(3))
    b = patch_mrf_loss(fill, image, mask, max_locations=64, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_generator_step_adds_the_term_when_weighted() -> None:
    torch.manual_seed(0)
    image, mask = _textured(), _hole()
    batch = Sample(image, mask, torch.tensor([[16, 16, 32, 32]] * 2))
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros", fill="smooth"))
    off = resolve_config("tiny", {"idmrf_weight": 0.0})
    on = resolve_config("tiny", {"idmrf_weight": 0.0, "patch_mrf_weight": 0.5, "patch_mrf_locations": 100})
    loss_off, logs_off = steps.generator_step(g, batch, off)
    loss_on, logs_on = steps.generator_step(g, batch, on)
    assert "patch_mrf" not in logs_off and logs_on["patch_mrf"] > 0
    assert abs(loss_on.item() - loss_off.item() - 0.5 * logs_on["patch_mrf"]) < 1e-5
