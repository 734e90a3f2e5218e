"""The fast TF-release path equals GMCNNTF (float32) and stays close in bfloat16; runtime wiring."""

from __future__ import annotations

import torch

from gmcnn.inpainting.backends import build_runner
from gmcnn.models.fused_tf import FusedGMCNNTF
from gmcnn.models.gmcnn_tf import GMCNNTF, GMCNNTFConfig


def _inputs(h: int = 36, w: int = 44) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, h, w, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, h, w)
    mask[..., 8:20, 10:30] = 1
    return image, mask


def _net(cnum: int) -> GMCNNTF:
    torch.manual_seed(0)
    net = GMCNNTF(GMCNNTFConfig(cnum=cnum)).eval()
    for p in net.parameters():  # larger weights than the init, so the output is far from zero
        p.data.mul_(6.0)
    return net


def test_fused_fp32_equals_gmcnntf():
    for cnum in (4, 34):  # 34 > 32 exercises the rate-32 layers
        net = _net(cnum)
        image, mask = _inputs()
        with torch.no_grad():
            ref = net(image, mask)
            ours = FusedGMCNNTF(net).eval()(image, mask)
        assert ref.std() > 0.05
        # The fused path sums the same products in another order; with weights x6 the float32 rounding
        # reaches ~2e-5 on some CPUs (AMD EPYC). 1e-4 is still 80x below one 8-bit level (2/255).
        assert torch.allclose(ours, ref, atol=1e-4), (cnum, (ours - ref).abs().max())


def test_fused_bf16_is_close():
    net = _net(4)
    image, mask = _inputs()
    with torch.no_grad():
        ref = net(image, mask)
        ours = FusedGMCNNTF(net, dtype=torch.bfloat16).eval()(image, mask)
    assert ours.dtype == torch.float32 and (ours - ref).abs().mean() < 0.02  # fidelity numbers: the benchmark


def test_runner_uses_the_fused_tf_path():
    runner = build_runner(_net(4), device="cpu", runtime="eager", precision="fp32")
    assert isinstance(runner.forward, FusedGMCNNTF)
    image, mask = _inputs()
    assert runner(image, mask).shape == (1, 3, 36, 44)
