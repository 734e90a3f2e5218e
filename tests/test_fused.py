"""The fused fast path is the same forward pass as ``GMCNN.forward`` (float32, to float rounding)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import fill_inputs, signal_generator

from gmcnn.models.fused import FusedGMCNN, _reflect_border


@pytest.mark.parametrize("pad_mode,gain,h,w", [("zeros", 1.6, 36, 52), ("reflect", 1.3, 196, 212)])
def test_fused_fp32_matches_gmcnn(photo: np.ndarray, pad_mode: str, gain: float, h: int, w: int) -> None:
    g = signal_generator(4, pad_mode, gain=gain)
    image, mask = fill_inputs(photo, h, w, batch=2)
    with torch.inference_mode():
        ref = g(image, mask)
        out = FusedGMCNN(g)(image, mask)
    assert out.dtype == torch.float32 and out.shape == ref.shape and out.is_contiguous()
    assert ref.std() > 0.3  # a meaningful comparison: the output is neither flat nor all clipped
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=0)


@pytest.mark.parametrize("p", [1, 2, 3, 48])
def test_reflect_border_equals_f_pad(p: int, rng: np.random.Generator) -> None:
    x = torch.from_numpy(rng.standard_normal((2, 5, 50, 61)).astype(np.float32)).contiguous(
        memory_format=torch.channels_last
    )
    buf = torch.full((2, 5, 50 + 2 * p, 61 + 2 * p), float("nan")).contiguous(memory_format=torch.channels_last)
    buf[:, :, p : p + 50, p : p + 61] = x
    _reflect_border(buf, p)
    assert torch.equal(buf, F.pad(x, (p, p, p, p), mode="reflect"))


def test_fused_leaky_fusion_head_matches_gmcnn(photo: np.ndarray) -> None:
    import dataclasses

    g = signal_generator(4, "zeros", gain=1.6)
    g.config = dataclasses.replace(g.config, fusion_act="leaky_relu")
    image, mask = fill_inputs(photo, 36, 52, batch=1)
    with torch.inference_mode():
        ref = g(image, mask)
        out = FusedGMCNN(g)(image, mask)
        g.config = dataclasses.replace(g.config, fusion_act="elu")
        elu = g(image, mask)
    torch.testing.assert_close(out, ref, atol=2e-5, rtol=0)
    assert (ref - elu).abs().max() > 1e-3  # the head really changed
