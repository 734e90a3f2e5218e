"""The fusion-saturation monitor: live for a fresh scaled-init network, dead for a saturated one."""

from __future__ import annotations

import torch

from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.init import scaled_init_
from gmcnn.training.health import DEAD_SHARE, Saturation, dead_warning, fusion_saturation


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
