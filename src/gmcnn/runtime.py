"""Execution back ends for a generator: how a ``(image, mask) -> pred`` call is run on this machine.

:class:`gmcnn.Inpainter` never calls the ``GMCNN`` module directly; it asks :func:`build_runner` for a
:class:`Runner` once at load time. A runner takes tensors already padded to the network's size contract
(``image`` ``(B,3,H,W)`` in [-1, 1], ``mask`` ``(B,1,H,W)`` with 1 = hole, float32, on ``runner.device``)
and returns the float32 prediction ``(B,3,H,W)`` in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gmcnn.models.gmcnn import GMCNN

RUNTIMES = ("auto", "eager")
PRECISIONS = ("auto", "fp32")


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


@dataclass
class Runner:
    """A ready-to-call generator: ``runner(image, mask) -> pred`` (see module docstring)."""

    generator: GMCNN
    device: torch.device
    runtime: str
    precision: str

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.generator(image, mask).float()


def build_runner(
    generator: GMCNN, *, device: str | torch.device = "auto", runtime: str = "auto", precision: str = "auto"
) -> Runner:
    """Choose and prepare the back end. ``"auto"`` picks the fastest path that stays faithful here."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {list(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {list(PRECISIONS)}")
    dev = resolve_device(device)
    generator = generator.to(dev).eval()
    return Runner(generator, dev, "eager", "fp32")
