"""Keeping the generator alive: the saturation monitor, the gradient clipper, the roll-back target."""

from __future__ import annotations

import pytest
import torch

from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.init import scaled_init_
from gmcnn.training.health import (
    DEAD_SHARE,
    GradClipper,
    Health,
    Saturation,
    dead_warning,
    fusion_saturation,
    rollback_target,
)


def _net() -> GMCNN:
    torch.manual_seed(0)
    net = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros", fill="smooth"))
    scaled_init_(net)
    return net


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    return image, mask


def test_saturation_counts_values_below_the_flat_threshold() -> None:
    meter = Saturation()
    meter.add(torch.tensor([-5.0, -3.5, -1.0, 2.0]))
    meter.add(torch.tensor([-10.0, 0.0]))
    assert meter.share == 3 / 6


def test_a_fresh_network_is_live_and_a_pushed_down_fusion_is_dead() -> None:
    net = _net()
    with torch.no_grad(), fusion_saturation(net) as live:
        net(*_batch())
    assert live.total > 0 and live.share < 0.5
    assert dead_warning(live.share, step=10, lr=1e-4) is None

    with torch.no_grad():
        net.decoding_layers[0].bias.fill_(-100.0)  # the state the lr 6e-4 runs ended in
        with fusion_saturation(net) as dead:
            net(*_batch())
    assert dead.share >= DEAD_SHARE
    warning = dead_warning(dead.share, step=750, lr=6e-4)
    assert warning is not None and "step 750" in warning and "0.0006" in warning


def test_the_hook_is_removed_after_the_block() -> None:
    net = _net()
    with torch.no_grad(), fusion_saturation(net) as meter:
        net(*_batch())
    seen = meter.total
    with torch.no_grad():
        net(*_batch())
    assert meter.total == seen


def test_a_leaky_head_is_never_flat_but_its_negative_share_is_counted() -> None:
    torch.manual_seed(0)
    net = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros", fill="smooth", fusion_act="leaky_relu"))
    with torch.no_grad():
        net.decoding_layers[0].bias.fill_(-100.0)
        with fusion_saturation(net) as meter:
            net(*_batch())
    assert meter.share == 0.0 and meter.negative_share == 1.0


def _params_with_grad(norm: float) -> list[torch.nn.Parameter]:
    p = torch.nn.Parameter(torch.zeros(4))
    p.grad = torch.tensor([norm, 0.0, 0.0, 0.0])
    return [p]


def test_grad_clipper_bounds_a_spike_at_a_multiple_of_the_running_mean() -> None:
    clipper = GradClipper(3.0)
    for _ in range(GradClipper.warmup):
        norm, clipped = clipper(_params_with_grad(1.0))
        assert norm == 1.0 and not clipped  # no clipping while the mean forms
    spike = _params_with_grad(100.0)
    norm, clipped = clipper(spike)
    assert norm == 100.0 and clipped
    assert torch.linalg.vector_norm(spike[0].grad).item() == pytest.approx(3.0)  # 3 x the mean of 1
    assert clipper.mean == pytest.approx(1.0 + 0.02 * (3.0 - 1.0))  # the spike enters the mean clipped
    assert not clipper(_params_with_grad(2.0))[1]
    restored = GradClipper(3.0)
    restored.load_state_dict(clipper.state_dict())
    assert (restored.mean, restored.seen) == (clipper.mean, clipper.seen)
    off = GradClipper(0.0)  # measures only
    for _ in range(20):
        off(_params_with_grad(1.0))
    assert off(_params_with_grad(100.0)) == (100.0, False)


def test_clipping_bounds_adams_update_after_a_spike() -> None:
    """Adam's step does not shrink with the gradient: once its second moment has settled, one gradient 1000x the
    usual moves each weight up to (1 - beta1) / sqrt(1 - beta2) = 16 lr (beta1 0.5, beta2 0.999, as the CPU
    presets). Clipped at 3x the running mean it moves it about as far as an ordinary step."""

    def last_step(clip: float) -> float:
        torch.manual_seed(0)
        w = torch.nn.Parameter(torch.zeros(64))
        opt = torch.optim.Adam([w], lr=1.0, betas=(0.5, 0.999))
        clipper = GradClipper(clip)
        for i in range(2000):
            w.grad = torch.randn(64) / 8 if i < 1999 else torch.ones(64) * 125  # norm ~1, then ~1000
            clipper([w])
            before = w.detach().clone()
            opt.step()
        return float((w.detach() - before).abs().max())

    unclipped, clipped = last_step(0.0), last_step(3.0)
    assert unclipped > 10
    assert clipped < 3  # an ordinary step moves a weight up to ~2 lr here


def test_rollback_target_is_the_newest_checkpoint_of_a_healthy_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    found = [(s, tmp_path / f"step_{s:08d}.pt") for s in (100, 200, 300)]
    assert rollback_target(found, healthy_step=200) == found[1][1]
    assert rollback_target(found, healthy_step=250) == found[1][1]
    assert rollback_target(found, healthy_step=50) is None
    assert Health.from_dict(Health(lr_scale=0.5, rollbacks=1).to_dict()) == Health(lr_scale=0.5, rollbacks=1)
    assert Health.from_dict(None) == Health()
