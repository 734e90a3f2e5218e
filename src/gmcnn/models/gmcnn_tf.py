"""The GMCNN generator of the official TensorFlow release, layer for layer (``tensorflow/net/network.py``).

The five TensorFlow models (Places2 512x680 free-form, Paris StreetView 256 rect, CelebA-HQ 256 rect, CelebA-HQ
512 rect and free-form) are a different network from the PyTorch release (:mod:`gmcnn.models.gmcnn`), so they
get their own module rather than flags in that one. What differs:

* **Input**: 5 channels ``[B, G, R, ones, mask]`` -- the colour channels in **BGR** order (the official code
  reads images with OpenCV), hole zeroed, then a constant-ones plane and the mask. :meth:`GMCNNTF.forward`
  takes the image already in BGR; :class:`gmcnn.Inpainter` flips RGB to BGR from the weights' contract.
* **Padding**: TensorFlow ``'SAME'`` zero padding, which is asymmetric on the stride-2 convs (one more pixel at
  the bottom / right for even sizes), instead of symmetric reflection.
* **Resizes**: TF1 ``resize_bilinear`` / ``resize_nearest_neighbor`` with ``align_corners=True`` to explicit
  sizes (``H x W`` and ``H//2 x W//2``). TF's nearest rounds ``out * (in-1)/(out-1)``, which is *not* pixel
  repetition, so it is re-stated here with an index gather.
* **Layers**: EB3's first conv is 5x5; EB2's first conv after the upsample is 3x3; EB3's tail ends at
  ``cnum//2`` channels, so the fusion input is ``6.5 * cnum`` (208 at cnum 32); and when ``cnum > 32`` every
  column has an extra rate-32 dilated conv (``conv11_atrous``).

Parameters: 12,429,107 at cnum 32. Module names are the TF layer names (``b1conv1``, ``b2conv13_upsample_conv``,
``mergeconv18`` ...), so :func:`tf_variable_name` maps each ``state_dict`` key to its checkpoint variable.
Weights are OIHW here; TF stores kernels HWIO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from gmcnn.models.base import Generator, GeneratorConfig
from gmcnn.models.init import official_init_

ARCHITECTURE = "gmcnn_tf"
SCOPE = "inpaint_net"


@dataclass(frozen=True)
class GMCNNTFConfig(GeneratorConfig):
    """Architecture of the TensorFlow-release generator.

    Attributes:
        cnum: base width (``g_cnum`` in the official options): 32 for Places2, Paris StreetView and
            CelebA-HQ 256; 64 for the CelebA-HQ 512 models. Above 32 the extra rate-32 layers are present.
    """

    ARCHITECTURE: ClassVar[str] = ARCHITECTURE

    @property
    def in_channels(self) -> int:
        """B, G, R, ones, mask."""
        return 5

    @property
    def channel_order(self) -> str:
        """The official code reads images with OpenCV: the network was trained on BGR."""
        return "BGR"

    @property
    def rate32(self) -> bool:
        """The official graph adds ``conv11_atrous`` (dilation 32) to each column when ``cnum > 32``."""
        return self.cnum > 32


class Conv(NamedTuple):
    """One ``tf.layers.conv2d`` of the graph: its TF name, kernel, output width, stride and dilation."""

    name: str
    kernel: int
    out: int
    stride: int = 1
    rate: int = 1
    scope: str = ""  # extra variable scope the official code wraps it in (the *_upsample convs)


class Resize(NamedTuple):
    """``tf.image.resize_*(x, [H // divisor, W // divisor], align_corners=True)``."""

    mode: str  # "bilinear" or "nearest"
    divisor: int


def _trunk(prefix: str, kernels: tuple[int, int], cnum: int, rate32: bool) -> list[Conv]:
    """The shared-shape encoder + dilated trunk; ``kernels`` = (first conv, the rest)."""
    k1, k = kernels
    c1, c2, c4 = cnum, 2 * cnum, 4 * cnum
    convs = [
        Conv(f"{prefix}conv1", k1, c1),
        Conv(f"{prefix}conv2_downsample", k, c2, stride=2),
        Conv(f"{prefix}conv3", k, c2),
        Conv(f"{prefix}conv4_downsample", k, c4, stride=2),
        Conv(f"{prefix}conv5", k, c4),
        Conv(f"{prefix}conv6", k, c4),
        *(Conv(f"{prefix}conv{7 + i}_atrous", k, c4, rate=2 ** (i + 1)) for i in range(4)),
    ]
    if rate32:
        convs.append(Conv(f"{prefix}conv11_atrous", k, c4, rate=32))
    return [*convs, Conv(f"{prefix}conv11", k, c4), Conv(f"{prefix}conv12", k, c4)]


def _upsample_conv(prefix: str, index: int, out: int) -> Conv:
    name = f"{prefix}conv{index}_upsample"
    return Conv(f"{name}_conv", 3, out, scope=name)


def column_specs(config: GMCNNTFConfig) -> list[list[Conv | Resize]]:
    """The three columns as op lists, in graph order (the order of ``network.py``)."""
    c, r32 = config.cnum, config.rate32
    b1: list[Conv | Resize] = [*_trunk("b1", (7, 7), c, r32), Resize("bilinear", 1)]
    b2: list[Conv | Resize] = [
        *_trunk("b2", (5, 5), c, r32),
        Resize("nearest", 2),
        _upsample_conv("b2", 13, 2 * c),
        Conv("b2conv14", 5, 2 * c),
        Resize("bilinear", 1),
    ]
    b3: list[Conv | Resize] = [
        *_trunk("b3", (5, 3), c, r32),
        Resize("nearest", 2),
        _upsample_conv("b3", 13, 2 * c),
        Conv("b3conv14", 3, 2 * c),
        Resize("nearest", 1),
        _upsample_conv("b3", 15, c),
        Conv("b3conv16", 3, c // 2),
    ]
    return [b1, b2, b3]


def merge_specs(config: GMCNNTFConfig) -> list[Conv]:
    return [Conv("mergeconv17", 3, config.cnum // 2), Conv("mergeconv18", 3, 3)]


def same_padding(size: int, kernel: int, stride: int, rate: int) -> tuple[int, int]:
    """TF ``'SAME'``: output ``ceil(size / stride)``; the odd pixel of padding goes after (bottom / right)."""
    effective = (kernel - 1) * rate + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Zero-pad ``x`` the way TF 'SAME' pads it for ``conv``."""
    k, s, d = conv.kernel_size[0], conv.stride[0], conv.dilation[0]
    top, bottom = same_padding(x.shape[-2], k, s, d)
    left, right = same_padding(x.shape[-1], k, s, d)
    if not (top or bottom or left or right):
        return x
    return F.pad(x, (left, right, top, bottom))


def nearest_indices(size_in: int, size_out: int, device: torch.device | None = None) -> torch.Tensor:
    """Source index of each output row/column for TF1 ``resize_nearest_neighbor(align_corners=True)``.

    TF computes ``min(roundf(out * scale), in - 1)`` in float32 with ``scale = (in - 1) / (out - 1)``; ``roundf``
    rounds halves away from zero, which for these non-negative values is ``floor(v + 0.5)``.
    """
    scale = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
    pos = torch.arange(size_out, dtype=torch.float32) * torch.tensor(scale, dtype=torch.float32)
    idx = torch.floor(pos + 0.5).to(torch.int64).clamp_(max=size_in - 1)
    return idx.to(device) if device is not None else idx


def resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """TF1 align-corners resize of ``x`` ``(B, C, h, w)`` to ``size``.

    Bilinear: PyTorch's ``align_corners=True`` samples TF's grid, ``src = dst * (in-1)/(out-1)``. Nearest: for an
    exact 2x upsample TF's rounding picks ``dst // 2`` (``dst * (n-1)/(2n-1)`` stays below ``dst//2 + 1/2``), i.e.
    pixel repetition, which PyTorch's ``nearest`` does natively (and exports to ONNX with symbolic sizes);
    other ratios use the explicit TF index rule of :func:`nearest_indices`.
    """
    h, w = x.shape[-2:]
    if (h, w) == tuple(size):
        return x
    if mode == "bilinear":
        if size[0] == 4 * h and size[1] == 4 * w:  # same grid as size=..., and traceable with symbolic sizes
            return F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=True)
        if size[0] == 2 * h and size[1] == 2 * w:
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=True)
    if size[0] == 2 * h and size[1] == 2 * w:
        return F.interpolate(x, scale_factor=2, mode="nearest")
    rows = nearest_indices(x.shape[-2], size[0], x.device)
    cols = nearest_indices(x.shape[-1], size[1], x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def tf_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The official 5-channel input ``[image * (1 - mask), ones, mask]`` (image in BGR, [-1, 1])."""
    ones = torch.ones_like(mask)
    return torch.cat([image * (1 - mask), ones, ones * mask], dim=1)


class GMCNNTF(Generator):
    """The TensorFlow-release GMCNN (see the module docstring for how it differs from :class:`GMCNN`).

    Args:
        config: architecture; defaults to cnum 32 (Places2, Paris StreetView, CelebA-HQ 256).
    """

    config: GMCNNTFConfig

    def __init__(self, config: GMCNNTFConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or GMCNNTFConfig()
        self.columns = column_specs(config)
        self.merge = merge_specs(config)
        cin_merge = 0
        for ops in self.columns:
            cin = config.in_channels
            for op in ops:
                if isinstance(op, Conv):
                    self.add_module(op.name, nn.Conv2d(cin, op.out, op.kernel, stride=op.stride, dilation=op.rate))
                    cin = op.out
            cin_merge += cin
        for op in self.merge:
            self.add_module(op.name, nn.Conv2d(cin_merge, op.out, op.kernel))
            cin_merge = op.out
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weights N(0, 0.02) and zero biases, like :class:`GMCNN` (TF trained from Glorot-uniform)."""
        official_init_(self)

    def conv(self, name: str) -> nn.Conv2d:
        module = getattr(self, name)
        assert isinstance(module, nn.Conv2d)
        return module

    def _column(self, ops: list[Conv | Resize], x: torch.Tensor, full: tuple[int, int]) -> torch.Tensor:
        for op in ops:
            if isinstance(op, Conv):
                layer = self.conv(op.name)
                x = F.elu(layer(pad_same(x, layer)))
            else:
                x = resize(x, (full[0] // op.divisor, full[1] // op.divisor), op.mode)
        return x

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predict every pixel.

        Args:
            image: ``(B, 3, H, W)`` **BGR** in [-1, 1]; pixels under the mask are ignored.
            mask: ``(B, 1, H, W)``, 1 = hole, 0 = known.

        Returns:
            ``(B, 3, H, W)`` BGR prediction in [-1, 1] (not composited).
        """
        h, w = image.shape[-2:]
        self.check_size(h, w)
        x = tf_input(image, mask)
        x = torch.cat([self._column(ops, x, (h, w)) for ops in self.columns], dim=1)  # (B, 6.5c, H, W)
        fuse, out = (self.conv(op.name) for op in self.merge)
        x = F.elu(fuse(pad_same(x, fuse)))
        x = out(pad_same(x, out))  # no activation
        return torch.clamp(x, -1.0, 1.0)


def conv_specs(config: GMCNNTFConfig) -> list[Conv]:
    """Every conv of the graph, in graph order."""
    return [op for ops in column_specs(config) for op in ops if isinstance(op, Conv)] + merge_specs(config)


def tf_variable_name(key: str, config: GMCNNTFConfig) -> str:
    """``state_dict`` key -> official TF variable name, e.g. ``b2conv13_upsample_conv.weight`` ->
    ``inpaint_net/b2conv13_upsample/b2conv13_upsample_conv/kernel``."""
    layer, _, kind = key.rpartition(".")
    specs = {c.name: c for c in conv_specs(config)}
    if layer not in specs or kind not in ("weight", "bias"):
        raise KeyError(f"{key!r} is not a GMCNNTF parameter")
    spec = specs[layer]
    scope = f"{SCOPE}/{spec.scope}/{spec.name}" if spec.scope else f"{SCOPE}/{spec.name}"
    return f"{scope}/{'kernel' if kind == 'weight' else 'bias'}"


__all__ = [
    "ARCHITECTURE",
    "GMCNNTF",
    "GMCNNTFConfig",
    "conv_specs",
    "nearest_indices",
    "resize",
    "same_padding",
    "tf_input",
    "tf_variable_name",
]
