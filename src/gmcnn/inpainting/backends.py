"""Execution back ends for a generator: how a ``(image, mask) -> pred`` call is run on this machine.

:class:`gmcnn.Inpainter` never calls the ``GMCNN`` module directly; it asks :func:`build_runner` for a
:class:`Runner` once at load time. A runner takes tensors already padded to the network's size contract
(``image`` ``(B,3,H,W)`` in [-1, 1], ``mask`` ``(B,1,H,W)`` with 1 = hole, float32, on ``runner.device``)
and returns the float32 prediction ``(B,3,H,W)`` in [-1, 1].

Back ends (``runtime``) and number formats (``precision``):

* ``"eager"`` runs :class:`~gmcnn.models.fused.FusedGMCNN`, the same maths as ``GMCNN`` laid out for
  inference: channels-last activations (oneDNN's fast layout), each ELU written straight into the
  reflection-padded input of the next conv, and the three columns written straight into the padded fusion
  input (no ``cat``, no separate pad pass, half the peak memory of ``GMCNN`` in channels-last). ``"fp32"``
  matches ``GMCNN`` to float rounding; ``"bf16"`` stores weights and activations in bfloat16 (oneDNN
  accumulates in fp32), which runs on AMX / AVX512-BF16 units.
* ``"compile"`` is ``torch.compile`` (inductor, weights frozen) of ``GMCNN`` in channels-last: about 20 %
  faster per call than eager, but every new input size first compiles for half a minute or more.
* ``"onnx"`` exports the generator and runs it with onnxruntime (see :mod:`gmcnn.inpainting.onnx`). ``"int8"``
  quantises that model statically after calibrating on photo crops: faster than onnxruntime fp32 but about
  35 dB PSNR from the fp32 fill, so ``"auto"`` never picks it.

``"auto"`` picks eager bf16 on CPUs with native bf16 units (AMX-BF16 or AVX512-BF16) — at 512x512 on a
2-core AMX slice 3-6x faster than an eager fp32 forward (less when other jobs share the cores) and about 50 dB
PSNR from the fp32 output; see ``benchmarks/results/fast_inference.md`` — and eager fp32 everywhere else,
including CUDA (not measured here).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gmcnn.errors import UserError
from gmcnn.inpainting import image as P
from gmcnn.models.base import Generator, GeneratorConfig, count_parameters
from gmcnn.models.registry import architecture_of, create_model, fused_twin

RUNTIMES = ("auto", "eager", "compile", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "int8")
# Which precisions each runtime can run; the first is what "auto" gives on a machine without fast bf16.
_SUPPORTED = {"eager": ("fp32", "bf16"), "compile": ("fp32", "bf16"), "onnx": ("fp32", "int8")}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, else CPU; anything else is passed to ``torch.device``."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but this machine has no CUDA GPU; use 'cpu' or 'auto'")
    return dev


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU has bf16 dot-product units (AMX-BF16 or AVX512-BF16).

    Without them bf16 convolutions are emulated with fp32 instructions plus conversions, so ``"auto"`` keeps
    fp32 there.
    """
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no cheap, reliable flag source, so stay on fp32
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return bool({"amx_bf16", "avx512_bf16"} & set(flags))


def resolve_options(runtime: str, precision: str, device: torch.device) -> tuple[str, str]:
    """Validate ``runtime`` / ``precision`` and replace ``"auto"`` by a concrete choice.

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or a pair no back end runs.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {list(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    if runtime == "auto":
        runtime = "onnx" if precision == "int8" else "eager"
    if precision == "auto":
        # bf16 only where it was measured to pay off and stay faithful: CPUs with native bf16 units.
        fast_bf16 = device.type == "cpu" and cpu_has_native_bf16()
        precision = "bf16" if fast_bf16 and "bf16" in _SUPPORTED[runtime] else _SUPPORTED[runtime][0]
    if precision not in _SUPPORTED[runtime]:
        runs = [r for r, precisions in _SUPPORTED.items() if precision in precisions]
        raise ValueError(
            f"runtime {runtime!r} does not run precision {precision!r} (it runs {list(_SUPPORTED[runtime])}); "
            f"{precision!r} runs on runtime {runs}"
        )
    if runtime == "onnx" and device.type != "cpu":
        raise ValueError(f"runtime 'onnx' runs on the CPU only, got device {str(device)!r}")
    return runtime, precision


class _CastGenerator(nn.Module):
    """The plain generator in ``dtype`` and channels-last, fed and read in float32: what ``"compile"`` compiles.

    Inductor fuses the pads, ELUs and concatenation itself, so it gets the straightforward graph
    (compiling a fused twin's strided writes instead recompiles per layer and runs slower).
    """

    def __init__(self, generator: Generator, *, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype
        self.net: nn.Module = copy.deepcopy(generator).to(dtype=dtype, memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        cl = torch.channels_last
        return self.net(image.to(self.dtype, memory_format=cl), mask.to(self.dtype, memory_format=cl)).float()


class NetInput(NamedTuple):
    """A window as the network takes it: padded ``(1,3,H,W)`` RGB image and ``(1,1,H,W)`` mask, and the padding."""

    image: torch.Tensor
    mask: torch.Tensor
    pads: tuple[int, int, int, int]


@dataclass
class Runner:
    """A ready-to-call generator: ``runner(image, mask) -> pred`` (see module docstring).

    The runner speaks RGB whatever the network saw in training: a network whose config says ``channel_order``
    ``"BGR"`` (the TF releases, trained on OpenCV's images) gets its input flipped on the way in and its output
    flipped back, so no caller ever handles colour order.

    Attributes:
        generator: the original float32 generator (its config and size contract; never run by the runner).
        device: where inputs must live.
        runtime: the concrete back end (never ``"auto"``).
        precision: the concrete number format (never ``"auto"``).
        forward: the prepared network in the network's own channel order, ``forward(image, mask) -> pred``.
    """

    generator: Generator
    device: torch.device
    runtime: str
    precision: str
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predict every pixel of padded float32 RGB ``image`` ``(B,3,H,W)`` / ``mask`` ``(B,1,H,W)`` (1 = hole)."""
        bgr = self.generator.config.channel_order == "BGR"
        with torch.inference_mode():
            pred = self.forward(image.flip(1) if bgr else image, mask).float()
        return pred.flip(1) if bgr else pred

    # ------------------------------------------------------------------------------------ one window in, out
    def net_input(self, rgb: np.ndarray, hole: np.ndarray, size: tuple[int, int]) -> NetInput:
        """One window (uint8 ``h x w x 3``, bool hole) scaled to ``size`` and padded to the network's contract."""
        image_t = P.rgb_to_tensor(P.resize_rgb(rgb, size)).to(self.device)  # (1, 3, sh, sw) in [-1, 1]
        mask_t = P.mask_to_tensor(P.resize_mask(hole, size)).to(self.device)  # (1, 1, sh, sw), 1 = hole
        cfg = self.generator.config
        image_p, mask_p, pads = P.pad_to_fit(image_t, mask_t, multiple=cfg.size_multiple, min_size=cfg.min_size)
        return NetInput(image_p, mask_p, pads)

    @staticmethod
    def net_output(pred: torch.Tensor, net: NetInput, window: tuple[int, ...]) -> torch.Tensor:
        """A ``(1,3,H,W)`` network output unpadded and upscaled back to the ``window`` (h, w): float32, CPU."""
        pred = P.unpad(pred, net.pads).float().cpu()  # (1, 3, sh, sw)
        if tuple(pred.shape[-2:]) != tuple(window):
            pred = F.interpolate(pred, size=tuple(window), mode="bicubic", align_corners=False).clamp_(-1, 1)
        return pred

    def predict(self, rgb: np.ndarray, hole: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
        """The network's prediction for one window run at ``size``, at the window's size: ``(1,3,h,w)`` in [-1, 1]."""
        net = self.net_input(rgb, hole, size)
        return self.net_output(self(net.image, net.mask), net, hole.shape)

    # ------------------------------------------------------------------------------------------ memory
    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the network sees for a ``height x width`` input (padded to its contract)."""
        cfg = self.generator.config
        m = cfg.size_multiple
        return max(cfg.min_size, -(-height // m) * m), max(cfg.min_size, -(-width // m) * m)

    def estimate_memory_bytes(self, height: int, width: int, *, batch: int = 1) -> int:
        """:func:`estimate_memory_bytes` for this runner's config, runtime and precision (unpadded size in)."""
        ph, pw = self.padded_size(height, width)
        return estimate_memory_bytes(
            self.generator.config, ph, pw, precision=self.precision, runtime=self.runtime, batch=batch
        )

    def check_fits(self, height: int, width: int) -> None:
        """Refuse a forward at ``height x width`` that would not fit in this machine's free memory."""
        need = self.estimate_memory_bytes(height, width)
        available = available_memory_bytes()
        if available is not None and need > available:
            raise UserError(
                f"filling {width}x{height} at full resolution needs about {need / 2**30:.1f} GiB but only "
                f"{available / 2**30:.1f} GiB is free; use strategy='crop' or 'resize' (or a smaller image)"
            )


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo`` (None where there is no such file)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def build_runner(
    generator: Generator, *, device: str | torch.device = "auto", runtime: str = "auto", precision: str = "auto"
) -> Runner:
    """Choose and prepare the back end. ``"auto"`` picks the fastest path that stays faithful here.

    Args:
        generator: the float32 network; it is moved to ``device`` and put in eval mode, its weights untouched.
        device: ``"auto"``, ``"cpu"`` or ``"cuda[:N]"``.
        runtime: one of :data:`RUNTIMES` (see the module docstring).
        precision: one of :data:`PRECISIONS`.

    Raises:
        ValueError: an unknown name or a runtime / precision / device combination no back end runs; the
            message lists the valid choices.
    """
    dev = resolve_device(device)
    runtime, precision = resolve_options(runtime, precision, dev)
    generator = generator.to(dev).eval()
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    if runtime == "onnx":
        from gmcnn.inpainting.onnx import onnx_forward  # onnxruntime is an optional dependency

        forward = onnx_forward(generator, int8=precision == "int8")
    elif runtime == "compile":
        forward = torch.compile(_CastGenerator(generator, dtype=_DTYPES[precision]).eval(), options={"freezing": True})
    else:  # every architecture registers its fused twin
        forward = fused_twin(generator, _DTYPES[precision]).eval()
    return Runner(generator, dev, runtime, precision, forward)


# Peak activation memory per pixel and per unit of ``cnum``, in full-resolution feature maps of ``cnum``
# channels, measured with ``benchmarks/fast_inference.py --memory`` (peak RSS growth during one forward,
# glibc mmap threshold pinned so freed maps are returned) and rounded up: eager 10.8 maps measured;
# compile ~ plain GMCNN in channels-last, 21.7 measured; onnxruntime's arena, 18-21 fp32 maps measured,
# int8 (quantise / dequantise copies) 30 maps measured.
_MAPS = {
    ("eager", "fp32"): 11.5,
    ("eager", "bf16"): 11.5,
    ("compile", "fp32"): 23.0,
    ("compile", "bf16"): 23.0,
    ("onnx", "fp32"): 23.0,
    ("onnx", "int8"): 32.0,
}
# bf16 on a CPU without bf16 units (only when asked for: "auto" keeps fp32 there): oneDNN converts to fp32
# around every conv and keeps both copies; 71 bf16-sized maps measured at cnum 16, 768x640 (1.12 GB peak).
_EMULATED_BF16_MAPS = 76.0
_BYTES = {"fp32": 4, "bf16": 2, "int8": 4}  # int8 models keep float32 maps between quantised convs
_FIXED_BYTES = 64 * 2**20  # oneDNN / onnxruntime scratch and primitive caches, measured < 40 MiB


@functools.cache
def _num_parameters(config: GeneratorConfig) -> int:
    with torch.device("meta"):  # shapes only, no weight memory
        return count_parameters(create_model(architecture_of(config).name, config))


def estimate_memory_bytes(
    config: GeneratorConfig,
    height: int,
    width: int,
    *,
    precision: str = "fp32",
    runtime: str = "eager",
    batch: int = 1,
) -> int:
    """Memory one forward at ``height x width`` needs on top of the loaded model (a measured model, rounded up).

    Counts the padded float32 inputs and output, the network's peak activation memory and the runtime's
    weight copy. :meth:`Runner.check_fits` calls this before a full-resolution (``"original"``) fill to refuse
    one that would not fit. Example: cnum 32 at 3840x2160 needs about 6.5 GB in eager bf16 and 12.7 GB in eager fp32.

    Args:
        config: the generator's architecture.
        height: padded input height.
        width: padded input width.
        precision: a concrete precision (``"fp32"``, ``"bf16"`` or ``"int8"``).
        runtime: a concrete runtime (``"eager"``, ``"compile"`` or ``"onnx"``).
        batch: images per call.

    Raises:
        ValueError: a runtime / precision pair that :func:`build_runner` never produces.
    """
    if (runtime, precision) not in _MAPS:
        raise ValueError(
            f"no memory model for runtime {runtime!r} with precision {precision!r}; known pairs: {sorted(_MAPS)}"
        )
    nbytes = _BYTES[precision]
    pixels = batch * height * width
    maps = _MAPS[runtime, precision]
    if precision == "bf16" and not cpu_has_native_bf16():
        maps = _EMULATED_BF16_MAPS
    per_pixel = maps * config.cnum * nbytes  # feature maps
    per_pixel += config.in_channels * nbytes + 4 * (3 + 1 + 3)  # network input; float32 image + mask and pred
    weights = _num_parameters(config) * nbytes
    return int(pixels * per_pixel + weights + _FIXED_BYTES)
