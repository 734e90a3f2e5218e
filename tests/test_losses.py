"""Loss properties: confidence weights, hole / known L1, ID-MRF, adversarial terms and the hole-only GP."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gmcnn.losses.adversarial import (
    generator_adversarial_loss,
    gradient_penalty,
    hinge_critic_loss,
    wgan_critic_loss,
)
from gmcnn.losses.idmrf import idmrf_loss, mrf_layer_loss
from gmcnn.losses.reconstruction import (
    blur_kernel_1d,
    confidence_l1,
    confidence_l2,
    confidence_weights,
    hole_l1,
    hole_l2,
    known_l1,
    official_taps,
)


def square_mask(size: int = 64, lo: int = 16, hi: int = 48) -> torch.Tensor:
    mask = torch.zeros(1, 1, size, size)
    mask[..., lo:hi, lo:hi] = 1
    return mask


# ----------------------------------------------------------------------------- confidence weights


@pytest.mark.parametrize("kernel", ["box", "gaussian"])
def test_confidence_zero_outside_and_rising_toward_the_boundary(kernel: str) -> None:
    mask = square_mask()
    w = confidence_weights(mask, kernel=kernel, size=15, sigma=4.0)
    assert w.shape == mask.shape
    assert torch.all(w[mask == 0] == 0)
    assert torch.all(w[mask == 1] > 0) and w.max() <= 1
    row = w[0, 0, 32, 16:32]  # from the hole's left edge to its centre
    assert torch.all(row[:-1] >= row[1:]) and row[0] > 1.5 * row[-1]


def test_default_box_kernel_is_the_official_gaussian_in_effect() -> None:
    # Official gauss_kernel(size=65, sigma=1/40): diff of the normal CDF over linspace(-nsig-i/2, nsig+i/2, 66)
    # with nsig = sigma and i = (2 nsig + 1) / 65 -- a 1-D slice of it is flat to < 0.1 %.
    nsig, size = 1 / 40, 65
    interval = (2 * nsig + 1) / size
    xs = [-nsig - interval / 2 + k * (2 * nsig + interval) / size for k in range(size + 1)]
    cdf = [0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs]
    taps = torch.tensor([b - a for a, b in zip(cdf, cdf[1:], strict=False)])
    taps = taps / taps.sum()
    assert (taps.max() / taps.min()).item() < 1.001
    torch.testing.assert_close(blur_kernel_1d(), taps.float(), rtol=1e-3, atol=0)


def test_separable_blur_equals_the_2d_convolution() -> None:
    mask = (torch.rand(2, 1, 40, 40, generator=torch.Generator().manual_seed(0)) > 0.6).float()
    taps = blur_kernel_1d(kernel="gaussian", size=9, sigma=2.0)
    kernel2d = (taps[:, None] * taps[None, :])[None, None]
    k = 1 - mask
    for _ in range(3):
        w = F.conv2d(k, kernel2d, padding=4) * mask
        k = (1 - mask) + w
    torch.testing.assert_close(confidence_weights(mask, kernel="gaussian", size=9, sigma=2.0, iterations=3), w)


def test_confidence_options_are_validated() -> None:
    with pytest.raises(ValueError, match="positive"):
        blur_kernel_1d(size=0)
    with pytest.raises(ValueError, match="valid paddings"):
        confidence_weights(square_mask(), padding="wrap")
    with pytest.raises(ValueError, match="valid kernels"):
        blur_kernel_1d(kernel="disk")
    with pytest.raises(ValueError, match="iterations"):
        confidence_weights(square_mask(), iterations=0)


def _official_kernel_2d(size: int, sigma: float = 1 / 40) -> np.ndarray:
    """The releases' gauss_kernel(size, sigma), re-stated: normal-CDF bins, sqrt of the outer product, normalised."""
    interval = (2 * sigma + 1.0) / size
    edges = np.linspace(-sigma - interval / 2, sigma + interval / 2, size + 1)
    p = np.diff([0.5 * (1 + math.erf(e / math.sqrt(2))) for e in edges])
    raw = np.sqrt(np.outer(p, p))
    return (raw / raw.sum()).astype(np.float32)


def _stroke_and_rect_masks() -> torch.Tensor:
    mask = torch.zeros(2, 1, 128, 128)
    mask[0, :, 30:100, 20:90] = 1  # a random-looking rectangle
    mask[1, :, 0:50, 70:128] = 1  # touches the border (where the padding matters)
    mask[1, :, 60:70, 5:120] = 1  # and a stroke
    return mask


def test_official_pytorch_confidence_layer_is_reproduced() -> None:
    # Official PyTorch ConfidenceDrivenMaskLayer: ReflectionPad2d(32) + conv2d with the 65x65 official kernel,
    # 7 times W = blur(K) * M; K = 1 - M + W. Re-stated with the full 2-D kernel (not our separable form).
    mask = _stroke_and_rect_masks()
    kernel = torch.from_numpy(_official_kernel_2d(65))[None, None]
    k = 1 - mask
    for _ in range(7):
        w = F.conv2d(F.pad(k, (32, 32, 32, 32), mode="reflect"), kernel) * mask
        k = 1 - mask + w
    ours = confidence_weights(mask, kernel="official", size=65, padding="reflect")
    assert (ours - w).abs().max() < 1e-4
    # ... and the old default really differs from it near borders (the issue measured 0.37 / 0.78).
    assert (confidence_weights(mask) - w).abs().max() > 0.1


def test_official_tf_confidence_equals_tensorflow_output() -> None:
    # tests/fixtures/tf_confidence: TensorFlow's own conv2d(padding='SAME') with the 64x64 kernel, 7 iterations
    # (scripts/tf_confidence_reference.py).
    folder = Path(__file__).parent / "fixtures" / "tf_confidence"
    mask = torch.from_numpy(np.load(folder / "masks.npy")).permute(0, 3, 1, 2)
    expected = torch.from_numpy(np.load(folder / "weights.npy")).permute(0, 3, 1, 2)
    ours = confidence_weights(mask, kernel="official", size=64, padding="zeros")
    assert expected.max() > 0.5
    assert (ours - expected).abs().max() < 1e-4
    assert (confidence_weights(mask, kernel="official", size=65, padding="zeros") - expected).abs().max() > 1e-3


def test_official_taps_factorise_the_official_2d_kernel() -> None:
    for size in (64, 65):
        taps = official_taps(size).double()
        np.testing.assert_allclose((taps[:, None] * taps[None, :]).numpy(), _official_kernel_2d(size), rtol=1e-5)


# ----------------------------------------------------------------------------- L1 terms


def test_hole_and_known_l1_see_only_their_region() -> None:
    mask = square_mask()
    target = torch.rand(1, 3, 64, 64) * 2 - 1
    w = confidence_weights(mask, size=15)
    assert confidence_l1(target, target, mask, w) == 0 and known_l1(target, target, mask) == 0
    wrong_known = target + (1 - mask) * 0.5
    wrong_hole = target + mask * 0.5
    assert confidence_l1(wrong_known, target, mask, w) == 0 and known_l1(wrong_known, target, mask) > 0
    assert confidence_l1(wrong_hole, target, mask, w) > 0 and known_l1(wrong_hole, target, mask) == 0
    # Known L1 is normalised by the known area: a constant error of 0.5 gives 0.5.
    torch.testing.assert_close(known_l1(wrong_known, target, mask), torch.tensor(0.5))


def test_plain_hole_losses_see_only_the_hole_and_weigh_it_evenly() -> None:
    mask = square_mask()
    target = torch.rand(1, 3, 64, 64) * 2 - 1
    assert hole_l1(target + (1 - mask) * 0.5, target, mask) == 0
    assert hole_l2(target + (1 - mask) * 0.5, target, mask) == 0
    # Normalised by the hole area: a constant error of 0.5 in the hole gives 0.5 (L1) and 0.25 (L2).
    torch.testing.assert_close(hole_l1(target + mask * 0.5, target, mask), torch.tensor(0.5))
    torch.testing.assert_close(hole_l2(target + mask * 0.5, target, mask), torch.tensor(0.25))


def test_confidence_l2_is_the_squared_twin_of_confidence_l1() -> None:
    mask = square_mask()
    target = torch.rand(1, 3, 64, 64) * 2 - 1
    w = confidence_weights(mask, size=15)
    assert confidence_l2(target + (1 - mask) * 0.5, target, mask, w) == 0
    # A constant hole error e gives e^2 / e times the L1 value: the same weighting, squared errors.
    l1 = confidence_l1(target + mask * 0.5, target, mask, w)
    torch.testing.assert_close(confidence_l2(target + mask * 0.5, target, mask, w), 0.5 * l1)


# ----------------------------------------------------------------------------- ID-MRF


def features(seed: int, shape: tuple[int, ...] = (2, 8, 12, 12)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_idmrf_of_x_with_itself_is_minimal() -> None:
    x = features(0)
    self_loss = mrf_layer_loss(x, x)
    assert self_loss.item() == pytest.approx(0.0, abs=1e-4)
    for seed in range(1, 4):
        assert mrf_layer_loss(features(seed), x) > self_loss + 0.1
        assert mrf_layer_loss(x + 0.3 * features(seed), x) > self_loss
    # Closer is better.
    assert mrf_layer_loss(x + 0.1 * features(9), x) < mrf_layer_loss(x + 1.0 * features(9), x)


def test_idmrf_centres_by_the_targets_channel_mean() -> None:
    gen, tgt = features(1), features(2)
    offset = torch.randn(1, 8, 1, 1, generator=torch.Generator().manual_seed(3)) * 5
    # A per-channel shift of both maps cancels out with centring over locations (not with the official
    # centring over channels, which this would catch).
    torch.testing.assert_close(
        mrf_layer_loss(gen + offset, tgt + offset), mrf_layer_loss(gen, tgt), rtol=1e-4, atol=1e-4
    )


def test_idmrf_memory_is_bounded_by_location_subsampling(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = []
    real_bmm = torch.bmm

    def spy(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = real_bmm(a, b)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(torch, "bmm", spy)
    big = features(0, (1, 4, 96, 96))  # 9,216 locations: 85M pairs without subsampling
    loss = mrf_layer_loss(big, big.flip(-1), max_locations=256)
    assert torch.isfinite(loss) and shapes == [(1, 256, 256)]


def test_idmrf_is_differentiable_and_weighted_over_layers() -> None:
    gen = {"relu3_2": features(1).requires_grad_(), "relu4_2": features(2, (2, 8, 6, 6)).requires_grad_()}
    tgt = {"relu3_2": features(3), "relu4_2": features(4, (2, 8, 6, 6))}
    total = idmrf_loss(gen, tgt)
    expected = mrf_layer_loss(gen["relu3_2"], tgt["relu3_2"]) + 2 * mrf_layer_loss(gen["relu4_2"], tgt["relu4_2"])
    torch.testing.assert_close(total, expected)
    total.backward()
    assert all(torch.isfinite(g.grad).all() and g.grad.abs().sum() > 0 for g in gen.values())


# ----------------------------------------------------------------------------- adversarial


def test_adversarial_values() -> None:
    real, fake = torch.tensor([2.0, 0.0]), torch.tensor([-1.0, 3.0])
    assert wgan_critic_loss(real, fake).item() == pytest.approx(1.0 - 1.0)
    assert hinge_critic_loss(real, fake).item() == pytest.approx((0 + 1) / 2 + (0 + 4) / 2)
    assert generator_adversarial_loss(fake).item() == pytest.approx(-1.0)


def test_gradient_penalty_touches_only_hole_pixels() -> None:
    mask = square_mask(16, 4, 8)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    w = torch.randn(1, 3, 16, 16)

    def linear_critic(weights: torch.Tensor) -> torch.Tensor:
        return (x * weights).sum(dim=(1, 2, 3))  # gradient w.r.t. x = weights

    gp = gradient_penalty(linear_critic(w), x, mask)
    expected = ((w * mask).norm() - 1) ** 2
    torch.testing.assert_close(gp, expected)
    # Changing the critic anywhere outside the hole does not change the penalty ...
    w_outside = w + (1 - mask) * torch.randn_like(w) * 10
    torch.testing.assert_close(gradient_penalty(linear_critic(w_outside), x, mask), gp)
    # ... and the penalty's gradient w.r.t. the critic's weights is zero outside the hole.
    weights = w.clone().requires_grad_()
    gradient_penalty(linear_critic(weights), x, mask).backward()
    assert torch.all(weights.grad[(1 - mask).expand_as(weights).bool()] == 0)
    assert weights.grad[mask.expand_as(weights).bool()].abs().sum() > 0
