"""The fused fast path: :class:`FusedGMCNN`, the same maths as ``GMCNN`` laid out for inference.

Built only from GMCNN's public structure (its ``EB1``/``EB2``/``EB3``/``decoding_layers`` module lists, its
config, :func:`~gmcnn.models.gmcnn.network_input` / :func:`~gmcnn.models.gmcnn.network_output`), it runs
channels-last activations (oneDNN's fast layout), writes each ELU straight into the reflection-padded input of
the next conv and the three columns straight into the padded fusion input (no ``cat``, no separate pad pass,
half the peak memory of ``GMCNN`` in channels-last). In float32 it equals ``GMCNN.forward`` to float rounding
(``tests/test_fused.py``); in bfloat16 it runs on AMX / AVX512-BF16 units.
"""

from __future__ import annotations

import copy
import functools
import typing
from collections.abc import Callable, Iterable

import torch
from torch import nn

from gmcnn.models.gmcnn import FUSION_LEAK, GMCNN, GMCNNConfig, Upsample, network_input, network_output


def _reflect_border(buf: torch.Tensor, p: int) -> None:
    """Fill the ``p``-wide border of ``buf`` by reflecting its interior, exactly like ``F.pad(mode="reflect")``.

    Columns first (interior rows), then whole rows, so corners reflect in both directions. One-pixel strip
    copies are cheap in channels-last memory and need no gather temporaries (measured as fast as or faster
    than ``F.pad`` for every pad width in the network, and faster than index-based padding).
    """
    h, w = buf.shape[-2] - 2 * p, buf.shape[-1] - 2 * p
    rows = buf[:, :, p : p + h]
    for i in range(p):
        rows[:, :, :, p - 1 - i].copy_(rows[:, :, :, p + 1 + i])
        rows[:, :, :, w + p + i].copy_(rows[:, :, :, w + p - 2 - i])
    for i in range(p):
        buf[:, :, p - 1 - i].copy_(buf[:, :, p + 1 + i])
        buf[:, :, h + p + i].copy_(buf[:, :, h + p - 2 - i])


def _zero_border(buf: torch.Tensor, p: int) -> None:
    for edge in (buf[:, :, :p], buf[:, :, -p:], buf[..., :p], buf[..., -p:]):
        edge.zero_()


# How a pending feature map gets written: ``emit(out)`` fills the (strided) view ``out`` with it.
_Emit = Callable[[torch.Tensor], object]


def _elu_into(src: torch.Tensor, out: torch.Tensor) -> None:
    torch.ops.aten.elu.out(src, 1.0, 1, 1, out=out)


def _leaky_into(src: torch.Tensor, out: torch.Tensor) -> None:
    torch.ops.aten.leaky_relu.out(src, FUSION_LEAK, out=out)


def _copy_into(src: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(src)


def _upsample_into(layer: Upsample, src: torch.Tensor, out: torch.Tensor) -> None:
    # Upsampling straight into a strided view is slower than a channels-last temporary plus a row copy;
    # chunking the channels keeps that temporary small (the x4 output of EB1 is the largest map in the net).
    step = max(1, out.shape[1] // 4)
    for c in range(0, out.shape[1], step):
        out[:, c : c + step].copy_(layer(src[:, c : c + step]))


def converted(generator: GMCNN, dtype: torch.dtype) -> GMCNN:
    """A copy of ``generator`` with weights in ``dtype`` and channels-last (the layout oneDNN convolves fastest)."""
    return copy.deepcopy(generator).to(dtype=dtype, memory_format=torch.channels_last)  # type: ignore[call-overload]


class FusedGMCNN(nn.Module):
    """Inference-only twin of :class:`GMCNN`: same weights, same maths, fewer memory passes.

    ``GMCNN.forward`` pads every conv input with a separate ``F.pad`` and concatenates the three columns.
    Here each conv's ELU writes straight into the interior of the next conv's padded input (only the border
    is filled afterwards), and the columns write straight into the padded input of the fusion conv, so
    there is no ``cat``. Peak activation memory is about 11 full-resolution ``cnum``-channel maps (measured),
    against 22 for ``GMCNN`` in channels-last and 29 in float32 NCHW.
    Activations are channels-last in ``dtype``; the result is float32 like ``GMCNN``'s.

    Args:
        generator: the trained network (left untouched; weights are copied).
        dtype: ``torch.float32`` or ``torch.bfloat16`` for weights and activations.
    """

    def __init__(self, generator: GMCNN, *, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.config: GMCNNConfig = generator.config
        self.dtype = dtype
        # Same module tree and state-dict keys as GMCNN; only dtype and memory format differ.
        twin = converted(generator, dtype)
        self.EB1, self.EB2, self.EB3, self.decoding_layers = twin.EB1, twin.EB2, twin.EB3, twin.decoding_layers
        self._columns = (self.EB1, self.EB2, self.EB3)
        self._fuse, self._out = (typing.cast(nn.Conv2d, m) for m in self.decoding_layers)
        self._check_size = twin.check_size
        # Channels each column contributes to the fusion input: its last conv's width.
        self._widths = [[m for m in col if isinstance(m, nn.Conv2d)][-1].out_channels for col in self._columns]

    def _padded(self, emit: _Emit, shape: tuple[int, ...], p: int) -> torch.Tensor:
        """A channels-last ``(B, C, H+2p, W+2p)`` buffer whose interior ``emit`` fills; border per ``pad_mode``."""
        b, c, h, w = shape
        buf = torch.empty(
            (b, c, h + 2 * p, w + 2 * p), dtype=self.dtype, device=self._device, memory_format=torch.channels_last
        )
        emit(buf[:, :, p : p + h, p : p + w])
        if self.config.pad_mode == "zeros":
            _zero_border(buf, p)
        else:
            _reflect_border(buf, p)
        return buf

    def _conv(self, conv: nn.Conv2d, emit: _Emit, shape: tuple[int, ...]) -> torch.Tensor:
        """Raw output of ``conv`` on the pending input (padded as :meth:`GMCNN._pad` would)."""
        buf = self._padded(emit, shape, conv.dilation[0] * (conv.kernel_size[0] - 1) // 2)
        del emit  # drop the last reference to the previous map before the conv allocates its output
        return conv(buf)

    def _run(self, layers: Iterable[nn.Module], emit: _Emit, shape: tuple[int, ...]) -> _Emit:
        """Run layers (each conv followed by ELU) from a pending input; returns the pending output."""
        for layer in layers:
            if isinstance(layer, nn.Conv2d):
                y = self._conv(layer, emit, shape)
                shape = tuple(y.shape)
                emit = functools.partial(_elu_into, y)
            elif isinstance(layer, Upsample):
                emit(y)  # ELU in place on the conv output; the upsample then writes into its consumer
                emit = functools.partial(_upsample_into, layer, y)
                shape = (*shape[:2], shape[2] * layer.scale, shape[3] * layer.scale)
        return emit

    def _columns_into(self, x: torch.Tensor, out: torch.Tensor) -> None:
        """Run the three columns, writing their channels side by side into ``out`` (the fusion input)."""
        start = 0
        for column, width in zip(self._columns, self._widths, strict=True):
            self._run(column, functools.partial(_copy_into, x), tuple(x.shape))(out[:, start : start + width])
            start += width

    @property
    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Same contract as :meth:`GMCNN.forward`: the clamped float32 prediction ``(B, 3, H, W)``."""
        self._check_size(image.shape[-2], image.shape[-1])
        x, base = network_input(self.config, image, mask)  # (B, 4, H, W), in float32
        x = x.to(self.dtype).contiguous(memory_format=torch.channels_last)
        b, _, h, w = x.shape
        # The padded fusion input is allocated once and the columns fill its interior: no cat, no pad copy.
        y = self._conv(self._fuse, functools.partial(self._columns_into, x), (b, sum(self._widths), h, w))
        act = _leaky_into if self.config.fusion_act == "leaky_relu" else _elu_into
        y = self._conv(self._out, functools.partial(act, y), tuple(y.shape))  # (B, 3, H, W), no activation
        return network_output(y.float(), base).contiguous()
