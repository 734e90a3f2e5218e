"""Is the generator still alive? The share of its fusion conv's pre-activations deep in ELU's flat tail.

Why: GMCNN has no normalisation layers, and its three columns meet in one fusion conv (``decoding_layers[0]``,
``cnum / 2`` channels: 4 at the embedded model's cnum 8) followed by an ELU. When a column's activations grow,
the fusion's pre-activations can be pushed far below zero, where ELU is flat: ``d ELU(x) / dx = e^x`` is under
0.05 below -3. Once all of them are there, no gradient reaches any layer, the correction is a constant, and
the run goes on "training" while validation stays fixed to the fourth decimal. That is what happened to the
shipped cnum-8 default (official init) and to every lr 6e-4 run with the scaled init (MODEL_CARD.md, "Dead
runs"): a step-750 checkpoint had all fusion pre-activations at about -105. Validation logs this share as
``val_fusion_saturated`` and the trainer warns once it passes :data:`DEAD_SHARE`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

FLAT_BELOW = -3.0  # ELU's slope e^x is under 0.05 here
DEAD_SHARE = 0.99


class Saturation:
    """Running share of values below :data:`FLAT_BELOW` over every batch seen."""

    def __init__(self) -> None:
        self.flat = 0
        self.total = 0

    def add(self, x: torch.Tensor) -> None:
        self.flat += int((x.detach() < FLAT_BELOW).sum())
        self.total += x.numel()

    @property
    def share(self) -> float:
        return self.flat / self.total if self.total else 0.0


@contextmanager
def fusion_saturation(generator: nn.Module) -> Iterator[Saturation]:
    """Measure the fusion conv's saturated share over the forward passes run inside the ``with`` block."""
    fusion = generator.decoding_layers[0]  # type: ignore[index]
    assert isinstance(fusion, nn.Module)
    meter = Saturation()

    def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> None:
        meter.add(output)

    handle = fusion.register_forward_hook(hook)
    try:
        yield meter
    finally:
        handle.remove()


def dead_warning(share: float, step: int, lr: float) -> str | None:
    """The trainer's warning when the fusion is saturated at validation, else None."""
    if share < DEAD_SHARE:
        return None
    return (
        f"gmcnn train: warning: at step {step} {share:.1%} of the generator's fusion pre-activations are below "
        f"{FLAT_BELOW:g}, where ELU is flat: almost no gradient reaches the network and its correction is about "
        f"constant. Restart from an earlier checkpoint or from scratch with a lower lr (now {lr:g}; 1e-4 trains)."
    )


__all__ = ["DEAD_SHARE", "FLAT_BELOW", "Saturation", "dead_warning", "fusion_saturation"]
