"""The GMCNN generator (Wang et al., NeurIPS 2018), layer for layer the official PyTorch release.

Reading order: config -> the three column trunks and tails -> the network. At the default config
(``cnum=32``) the network has 12,561,891 parameters and its ``state_dict`` keys are exactly the official
``EB1.*``, ``EB2.*``, ``EB3.*``, ``decoding_layers.*`` keys, so official ``*_net_GM.pth`` weights load as-is.

Conventions (as everywhere in gmcnn): ``image`` is float32 ``(B, 3, H, W)`` RGB in [-1, 1]; ``mask`` is float32
``(B, 1, H, W)`` with **1 = hole (to fill), 0 = known**. ``forward`` builds the 4-channel input
``[image * (1 - mask), mask]`` itself (with ``fill="smooth"``: the hole pre-filled by
:func:`gmcnn.models.fill.smooth_fill`, and the output is that fill plus the network's correction) and returns the
clamped prediction for *every* pixel; the caller composites ``pred * mask + image * (1 - mask)``.

Size contract of this architecture: ``H`` and ``W`` must be multiples of 4 (two stride-2 convs) and at least
:attr:`GMCNNConfig.min_size` (196 at the default config: the rate-16 reflection pad of the 7x7 column is 48 px
at 1/4 resolution and reflection needs the map to be larger than the pad). :class:`gmcnn.Inpainter` pads any
image to fit; calling the module directly with other sizes raises a ``ValueError`` that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from gmcnn.models.base import Generator, GeneratorConfig, count_parameters
from gmcnn.models.fill import smooth_fill
from gmcnn.models.init import official_init_

FILLS = ("zeros", "smooth")
FUSION_ACTS = ("elu", "leaky_relu")
FUSION_LEAK = 0.2  # slope of "leaky_relu" below 0


@dataclass(frozen=True)
class GMCNNConfig(GeneratorConfig):
    """Architecture of a GMCNN generator. Saved as JSON beside every exported generator.

    Attributes:
        cnum: base width; column widths are cnum, 2*cnum, 4*cnum and the fusion is 7*cnum -> cnum/2 -> 3.
            32 is the paper/official model; 16 or 8 are cheaper variants.
        in_channels: 4 = RGB with the hole zeroed + the mask channel (the official PyTorch layout).
        pad_mode: padding in front of every conv. ``"reflect"`` is the official behaviour (and sets the
            minimum input size); ``"zeros"`` lifts the minimum size (used only by tiny test configs).
        fill: what the network sees in the hole and what it predicts. ``"zeros"`` is the official model: hole
            zeroed, the output is the image. ``"smooth"``: the hole is pre-filled by the parameter-free
            :func:`gmcnn.models.fill.smooth_fill` and the output is that fill plus the network's correction
            (same layers and state-dict keys; the embedded CPU model uses it because it learns far faster).
        fusion_act: the activation after the fusion conv. ``"elu"`` is the official model. ``"leaky_relu"``
            (slope :data:`FUSION_LEAK` below 0) is a head that cannot saturate: ELU is flat below about -3, and a
            run whose fusion pre-activations all drift there gets no gradient into any layer again
            (:mod:`gmcnn.training.health`); same layers and state-dict keys.
    """

    ARCHITECTURE: ClassVar[str] = "gmcnn"

    in_channels: int = 4
    pad_mode: str = "reflect"
    fill: str = "zeros"
    fusion_act: str = "elu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.in_channels != 4:
            raise ValueError(f"in_channels must be 4 (RGB + mask), got {self.in_channels}")
        if self.pad_mode not in ("reflect", "zeros"):
            raise ValueError(f"pad_mode must be 'reflect' or 'zeros', got {self.pad_mode!r}")
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {self.fill!r}")
        if self.fusion_act not in FUSION_ACTS:
            raise ValueError(f"fusion_act must be one of {FUSION_ACTS}, got {self.fusion_act!r}")

    @property
    def min_size(self) -> int:
        """Smallest height/width the network accepts (reflection pads must be smaller than the map)."""
        if self.pad_mode == "zeros":
            return self.size_multiple
        largest_pad = 16 * (7 - 1) // 2  # rate-16 dilated 7x7 conv at 1/4 resolution
        return self.size_multiple * (largest_pad + 1)


class Upsample(nn.Module):
    """Parameter-free upsampling that occupies an index in a column (keeps official key numbering)."""

    def __init__(self, scale: int, mode: str) -> None:
        super().__init__()
        self.scale = scale
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return F.interpolate(x, scale_factor=self.scale, mode=self.mode, align_corners=True)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}"


def _conv(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    # Padding is applied explicitly in GMCNN._pad (reflection), so the conv itself pads nothing.
    return nn.Conv2d(cin, cout, k, stride=stride, padding=0, dilation=dilation)


def _trunk(cin: int, cnum: int, k: int) -> list[nn.Module]:
    """The 12-conv encoder / dilated trunk shared in shape (not in weights) by all three columns."""
    c1, c2, c4 = cnum, 2 * cnum, 4 * cnum
    return [
        _conv(cin, c1, k),  # 0
        _conv(c1, c2, k, stride=2),  # 1: 1/2 resolution
        _conv(c2, c2, k),  # 2
        _conv(c2, c4, k, stride=2),  # 3: 1/4 resolution
        _conv(c4, c4, k),  # 4
        _conv(c4, c4, k),  # 5
        _conv(c4, c4, k, dilation=2),  # 6
        _conv(c4, c4, k, dilation=4),  # 7
        _conv(c4, c4, k, dilation=8),  # 8
        _conv(c4, c4, k, dilation=16),  # 9
        _conv(c4, c4, k),  # 10
        _conv(c4, c4, k),  # 11
    ]


class GMCNN(Generator):
    """Three-column generator: 7x7 / 5x5 / 3x3 columns fused by two 3x3 convs.

    Args:
        config: architecture; defaults to the official model (cnum 32).
    """

    config: GMCNNConfig

    def __init__(self, config: GMCNNConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GMCNNConfig()
        c = config.cnum
        # EB1 (7x7): trunk, then bilinear x4 straight to full resolution -> 4c channels.
        self.EB1 = nn.ModuleList([*_trunk(config.in_channels, c, 7), Upsample(4, "bilinear")])
        # EB2 (5x5): trunk, nearest x2, two convs at 1/2, bilinear x2 -> 2c channels.
        self.EB2 = nn.ModuleList(
            [*_trunk(config.in_channels, c, 5), Upsample(2, "nearest"), _conv(4 * c, 2 * c, 5),
             _conv(2 * c, 2 * c, 5), Upsample(2, "bilinear")]
        )  # fmt: skip
        # EB3 (3x3): trunk, nearest x2, two convs, nearest x2, two convs -> c channels.
        self.EB3 = nn.ModuleList(
            [*_trunk(config.in_channels, c, 3), Upsample(2, "nearest"), _conv(4 * c, 2 * c, 3),
             _conv(2 * c, 2 * c, 3), Upsample(2, "nearest"), _conv(2 * c, c, 3), _conv(c, c, 3)]
        )  # fmt: skip
        self.decoding_layers = nn.ModuleList([_conv(7 * c, c // 2, 3), _conv(c // 2, 3, 3)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Official init: weights N(0, 0.02), biases 0."""
        official_init_(self)

    def _pad(self, x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        p = conv.dilation[0] * (conv.kernel_size[0] - 1) // 2
        if p == 0:
            return x
        if self.config.pad_mode == "zeros":
            return F.pad(x, (p, p, p, p))
        return F.pad(x, (p, p, p, p), mode="reflect")

    def _column(self, layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        for layer in layers:
            if isinstance(layer, nn.Conv2d):
                x = F.elu(layer(self._pad(x, layer)))
            else:
                x = layer(x)
        return x

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predict every pixel.

        Args:
            image: ``(B, 3, H, W)`` RGB in [-1, 1]; pixels under the mask are ignored.
            mask: ``(B, 1, H, W)``, 1 = hole, 0 = known.

        Returns:
            ``(B, 3, H, W)`` prediction in [-1, 1] (not composited).
        """
        self.check_size(image.shape[-2], image.shape[-1])
        x, base = network_input(self.config, image, mask)  # (B, 4, H, W)
        return self._predict(x, base)

    def _predict(self, x: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
        x1 = self._column(self.EB1, x)  # (B, 4c, H, W)
        x2 = self._column(self.EB2, x)  # (B, 2c, H, W)
        x3 = self._column(self.EB3, x)  # (B, c, H, W)
        x = torch.cat([x1, x2, x3], dim=1)  # (B, 7c, H, W)
        fuse, out = self.decoding_layers[0], self.decoding_layers[1]
        assert isinstance(fuse, nn.Conv2d) and isinstance(out, nn.Conv2d)
        x = fusion_activation(fuse(self._pad(x, fuse)), self.config.fusion_act)  # (B, c/2, H, W)
        x = out(self._pad(x, out))  # (B, 3, H, W), no activation
        return network_output(x, base)

    @staticmethod
    def flops(height: int, width: int, cnum: int = 32) -> float:
        """Multiply-adds x 2 of one forward at (height, width); ~134e9 at 256x256 for cnum 32."""
        total = 0.0
        net = GMCNN(GMCNNConfig(cnum=cnum, pad_mode="zeros"))
        hooks = []

        def count(mod: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
            nonlocal total
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels
            total += 2.0 * k * out.numel() / out.shape[0]

        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                hooks.append(m.register_forward_hook(count))
        with torch.no_grad():
            net(torch.zeros(1, 3, height, width, device="meta"), torch.zeros(1, 1, height, width, device="meta"))
        for h in hooks:
            h.remove()
        return total


def fusion_activation(x: torch.Tensor, kind: str) -> torch.Tensor:
    """The fusion conv's activation named by ``GMCNNConfig.fusion_act``."""
    return F.leaky_relu(x, FUSION_LEAK) if kind == "leaky_relu" else F.elu(x)


def network_input(
    config: GMCNNConfig, image: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The 4-channel network input for ``config.fill``, and the base the output is added to (None for zeros)."""
    if config.fill == "smooth":
        base = smooth_fill(image, mask)
        return torch.cat([base, mask], dim=1), base
    return torch.cat([image * (1 - mask), mask], dim=1), None  # the official input: hole zeroed


def network_output(out: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
    """The last conv's output -> the prediction in [-1, 1] (a correction added to ``base`` when there is one)."""
    if base is not None:
        out = out.float() + base.float()
    return torch.clamp(out, -1.0, 1.0)


__all__ = [
    "FILLS",
    "FUSION_ACTS",
    "FUSION_LEAK",
    "GMCNN",
    "GMCNNConfig",
    "Upsample",
    "count_parameters",
    "fusion_activation",
    "network_input",
    "network_output",
]
