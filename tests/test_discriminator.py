"""Critics: output shapes, the local crop, the mask-weighted patch score, spectral norm, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gmcnn.models.discriminator import Discriminator, GlobalCritic, PatchCritic, crop_boxes


def batch(n: int = 2, size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(n, 3, size, size, generator=g) * 2 - 1
    mask = torch.zeros(n, 1, size, size)
    mask[..., 8:40, 16:48] = 1
    bbox = torch.tensor([[8, 16, 32, 32]] * n)
    return image, mask, bbox


@pytest.mark.parametrize("local", ["crop", "patch"])
@pytest.mark.parametrize("sn", [False, True])
def test_scores_shape_and_every_parameter_gets_a_gradient(local: str, sn: bool) -> None:
    d = Discriminator(image_size=64, width=4, local=local, spectral_norm=sn)
    image, mask, bbox = batch()
    score_global, score_local = d(image, mask, bbox)
    assert score_global.shape == (2,) and score_local.shape == (2,)
    (score_global.sum() + score_local.sum()).backward()
    for name, p in d.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_official_pytorch_critic_layout() -> None:
    critic = GlobalCritic(size=256, width=64)
    convs = [m for m in critic.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) for c in convs] == [
        (3, 64, (5, 5), (2, 2), (2, 2)), (64, 128, (5, 5), (2, 2), (2, 2)),
        (128, 256, (5, 5), (2, 2), (2, 2)), (256, 256, (5, 5), (2, 2), (2, 2)),
    ]  # fmt: skip
    assert critic.linear.in_features == 256 * 16 * 16 and critic.linear.out_features == 1
    local = Discriminator(image_size=256, width=64).local_critic
    assert local.linear.in_features == 256 * 8 * 8  # 128x128 bbox crop, as in the paper


def test_crop_boxes_crops_and_resizes() -> None:
    image = torch.arange(2 * 1 * 8 * 8, dtype=torch.float32).view(2, 1, 8, 8)
    boxes = torch.tensor([[0, 0, 4, 4], [2, 3, 4, 4]])
    out = crop_boxes(image, boxes, 4)
    torch.testing.assert_close(out[0], image[0, :, 0:4, 0:4])
    torch.testing.assert_close(out[1], image[1, :, 2:6, 3:7])
    assert crop_boxes(image, torch.tensor([[0, 0, 8, 6], [1, 1, 2, 2]]), 4).shape == (2, 1, 4, 4)


def test_local_crop_critic_ignores_pixels_outside_the_box() -> None:
    d = Discriminator(image_size=64, width=4, local="crop")
    image, mask, bbox = batch()
    changed = image.clone()
    changed[..., 50:, 50:] = 1.0  # outside the bbox
    _, before = d(image, mask, bbox)
    _, after = d(changed, mask, bbox)
    torch.testing.assert_close(before, after)


def test_patch_critic_scores_only_patches_over_the_hole() -> None:
    critic = PatchCritic(width=4)
    image = torch.zeros(1, 3, 64, 64)
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., :32, :32] = 1  # the top-left map cell (64 / 32 = 2x2 map)
    bbox = torch.tensor([[0, 0, 32, 32]])
    scores = critic.out(critic.features(torch.cat([image, mask], 1)))  # (1, 1, 2, 2)
    torch.testing.assert_close(critic(image, mask, bbox), scores[0, 0, 0, 0].reshape(1))


def test_unknown_local_kind() -> None:
    with pytest.raises(ValueError, match="crop"):
        Discriminator(image_size=64, local="global")
