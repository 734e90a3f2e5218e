"""Keeping the generator alive: measure its fusion head's saturation, clip gradient spikes, roll back dead runs.

Why: GMCNN has no normalisation layers, and its three columns meet in one fusion conv (``decoding_layers[0]``,
``cnum / 2`` channels: 4 at the embedded model's cnum 8) followed by an ELU. ELU is flat below about -3
(``d ELU(x) / dx = e^x`` is under 0.05 there); once every fusion pre-activation is there, no gradient reaches any
layer, the correction is a constant, and the run goes on "training" while validation stays fixed to the fourth
decimal. Measured with ``benchmarks/saturation_probe.py`` (cpu_live_mrf at 64x64 crops, cnum 16, lr 1e-3;
``benchmarks/results/training/saturation_probe.md``): Adam moves every weight by about lr per step whatever the
gradient's size, which is 2-5 % of a fan-in-scaled weight (std 0.02-0.05) per step; compounded over a column's
12-18 unnormalised layers, the columns' activations grow (in the clipped run: max 15 at step 28, 117 at 40)
and the gradient norm jumps 160x in two steps (0.22 -> 35). Single fusion updates then throw its pre-activations
from a mean of -7 (step 47) to -63 (step 48), -824 (step 51: 99.4 % flat) and -3,500 (step 53); from step 54 on
100 % are flat and the columns' gradient is 1e-24 or exactly 0. Clipping the gradient alone does not stop it: it
bounds the gradient, not Adam's per-weight step, and the clipped run died within a few steps of the unclipped one.
At lower lr the same happens later or slowly: run M (lr 1e-4) drifted to 55-64 % flat by step 600-1200.

Three remedies, each a config option (off in the official presets):

* ``fusion_act = "leaky_relu"`` (:class:`gmcnn.models.gmcnn.GMCNNConfig`): a head with slope 0.2 below zero has
  no flat region, so the share measured here is 0 by construction; :class:`Saturation` also counts the
  pre-activations below -3 whatever the head (``val_fusion_negative``), which shows the drift;
* ``grad_clip = k`` (:class:`GradClipper`): the generator's gradient norm is clipped at ``k`` x its running mean,
  so one spike cannot move the weights further than an ordinary step;
* ``rollback_saturation = s`` (:func:`rollback_target`): when validation finds the share at or above ``s``, the
  trainer reloads the newest checkpoint from a healthy validation and continues with its lr x
  ``rollback_lr_factor``.

Validation logs the share as ``val_fusion_saturated``; the trainer warns once it passes :data:`DEAD_SHARE`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

FLAT_BELOW = -3.0  # ELU's slope e^x is under 0.05 here
DEAD_SHARE = 0.99
FLAT_HEADS = ("elu",)  # fusion activations with a flat region (gmcnn.models.gmcnn.FUSION_ACTS)


class Saturation:
    """Running shares of fusion pre-activations below :data:`FLAT_BELOW` over every batch seen: ``share`` counts
    them only when the head is flat there (ELU), ``negative_share`` whatever the head."""

    def __init__(self, *, flat: bool = True) -> None:
        self.flat = flat
        self.below = 0
        self.total = 0

    def add(self, x: torch.Tensor) -> None:
        self.below += int((x.detach() < FLAT_BELOW).sum())
        self.total += x.numel()

    @property
    def negative_share(self) -> float:
        return self.below / self.total if self.total else 0.0

    @property
    def share(self) -> float:
        return self.negative_share if self.flat else 0.0

    def reset(self) -> None:
        self.below = self.total = 0


def head_is_flat(generator: nn.Module) -> bool:
    """Whether the generator's fusion activation has a flat region (a network without the option: ELU)."""
    config = getattr(generator, "config", None)
    return getattr(config, "fusion_act", "elu") in FLAT_HEADS


@contextmanager
def fusion_saturation(generator: nn.Module, meter: Saturation | None = None) -> Iterator[Saturation]:
    """Measure the fusion conv's pre-activations over the forward passes run inside the ``with`` block (into
    ``meter`` when given, to keep counting across blocks)."""
    fusion = generator.decoding_layers[0]  # type: ignore[index]
    assert isinstance(fusion, nn.Module)
    meter = meter or Saturation(flat=head_is_flat(generator))

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
        f"constant. Restart from an earlier checkpoint or from scratch with a lower lr (now {lr:g}; 1e-4 trains), "
        f"or set rollback_saturation to roll back automatically."
    )


class GradClipper:
    """Clip the global gradient norm at ``factor`` x the running mean of earlier (clipped) norms.

    A fixed threshold would need to know the loss's scale; a multiple of the run's own typical norm does not.
    The mean is arithmetic over the first :attr:`warmup` steps (no clipping yet), then exponential with
    :attr:`decay`. It is part of the checkpoint, so a resumed run clips exactly as an uninterrupted one. Under
    DDP every rank holds the same averaged gradients, hence the same norm and the same decision.
    """

    warmup = 10
    decay = 0.98

    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.mean = 0.0
        self.seen = 0

    def __call__(self, parameters: Iterable[nn.Parameter]) -> tuple[float, bool]:
        """Measure (and with ``factor > 0`` clip) the gradients in place; returns (norm before, clipped?)."""
        grads = [p.grad for p in parameters if p.grad is not None]
        if not grads:
            return 0.0, False
        norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
        limit = self.factor * self.mean
        clipped = self.factor > 0 and self.seen >= self.warmup and math.isfinite(norm) and norm > limit
        if clipped:
            for g in grads:
                g.mul_(limit / norm)
        kept = limit if clipped else norm
        if math.isfinite(kept):
            self.seen += 1
            rate = 1.0 / self.seen if self.seen <= self.warmup else 1.0 - self.decay
            self.mean += rate * (kept - self.mean)
        return norm, clipped

    def state_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "seen": self.seen}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.mean, self.seen = float(state["mean"]), int(state["seen"])


@dataclass
class Health:
    """A run's health record, saved in every checkpoint.

    Attributes:
        lr_scale: multiplies the generator's scheduled lr; each roll-back multiplies it by ``rollback_lr_factor``.
        rollbacks: roll-backs so far.
        healthy_step: the last validation step whose saturation was below ``rollback_saturation``.
        clip: :class:`GradClipper` state.
    """

    lr_scale: float = 1.0
    rollbacks: int = 0
    healthy_step: int = 0
    clip: dict[str, float] = field(default_factory=lambda: {"mean": 0.0, "seen": 0})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Health:
        return cls(**data) if data else cls()


def rollback_target(checkpoints: list[tuple[int, Path]], healthy_step: int) -> Path | None:
    """The newest checkpoint at or before the last healthy validation, or None when none is left."""
    healthy = [path for step, path in checkpoints if step <= healthy_step]
    return healthy[-1] if healthy else None


__all__ = [
    "DEAD_SHARE",
    "FLAT_BELOW",
    "GradClipper",
    "Health",
    "Saturation",
    "dead_warning",
    "fusion_saturation",
    "head_is_flat",
    "rollback_target",
]
