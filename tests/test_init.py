"""The variance-preserving generator init: the prediction starts at the pre-fill, with every column live."""

from __future__ import annotations

import torch
from torch import nn

from gmcnn.models.fill import smooth_fill
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.init import scaled_init_


def _conv_outputs(g: GMCNN, image: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    acts: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda _m, _i, out, n=name: acts.__setitem__(n, out.detach()))
             for name, m in g.named_modules() if isinstance(m, nn.Conv2d)]  # fmt: skip
    with torch.no_grad():
        g(image, mask)
    for h in hooks:
        h.remove()
    return acts


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = (torch.rand(1, 3, 200, 200, generator=g) * 2 - 1).clamp(-1, 1)
    mask = torch.zeros(1, 1, 200, 200)
    mask[..., 60:140, 50:150] = 1
    return image, mask


def test_prediction_starts_at_the_prefill() -> None:
    torch.manual_seed(0)
    g = GMCNN(GMCNNConfig(cnum=8, fill="smooth"))
    scaled_init_(g)
    image, mask = _inputs()
    with torch.no_grad():
        assert torch.allclose(g(image, mask), smooth_fill(image, mask).clamp(-1, 1), atol=1e-6)


def test_every_column_stays_live_where_the_official_init_vanishes() -> None:
    image, mask = _inputs()
    torch.manual_seed(0)
    official = GMCNN(GMCNNConfig(cnum=8, fill="smooth"))
    scaled = GMCNN(GMCNNConfig(cnum=8, fill="smooth"))
    scaled_init_(scaled)
    fusion = "decoding_layers.0"
    for column in ("EB1.11", "EB2.14", "EB3.17", fusion):
        std = _conv_outputs(scaled, image, mask)[column].std().item()
        assert 0.1 < std < 5.0, (column, std)
    # the 3x3 column of the official init at cnum 8: the signal has all but vanished
    assert _conv_outputs(official, image, mask)["EB3.17"].std().item() < 1e-3


def test_gradient_reaches_the_first_layers_after_one_step() -> None:
    torch.manual_seed(0)
    g = GMCNN(GMCNNConfig(cnum=8, fill="smooth"))
    scaled_init_(g)
    image, mask = _inputs()
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)
    for _ in range(2):  # the zero output conv passes no gradient back until it has moved once
        opt.zero_grad()
        ((g(image, mask) - image) ** 2 * mask).mean().backward()
        opt.step()
    for column in ("EB1", "EB2", "EB3"):
        grad = getattr(g, column)[0].weight.grad
        assert grad is not None and grad.abs().sum() > 0, column
