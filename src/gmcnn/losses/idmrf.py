"""Implicit Diversified Markov Random Field (ID-MRF) loss (Wang et al. 2018, eq. 5-7), contextual-loss form.

For one feature layer, with 1x1 patches (feature vectors) ``v`` of the generated crop and ``s`` of the target:

1. centre both by the **target's per-channel mean** (over locations; the official PyTorch code averages over
   channels instead, which this does not copy) and L2-normalise along channels;
2. cosine similarity -> distance ``d = (1 - cos) / 2`` for every (target, generated) pair;
3. relative distance ``d~ = d / (min over targets of d + 1e-5)`` per generated location;
4. ``w = exp((1 - d~) / h)`` with bandwidth ``h = 0.5``, normalised over targets;
5. for each target, the best (max) ``w`` over generated locations; mean over targets; ``-log``; mean over batch.

The loss is ~0 when the generated features equal the target's (every target finds its exact copy) and grows as
target patches lose their nearest generated neighbour. The pairwise matrix has ``N^2`` entries for ``N``
locations, so above ``max_locations`` a random subset of locations (the same for both maps, as the TF release)
is used: memory stays bounded however large the crop is.

Official differences, as options: ``centre="location"`` is the official PyTorch centring (the mean over
*channels* at each target location, subtracted from both maps at that location), ``centre="batch"`` the TF
release's (per-channel mean over the whole batch and all locations); ``reduction="sum"`` is the official PyTorch
sum over the batch (TF and ours take the mean). Together with the VGG options of :mod:`gmcnn.models.vgg` they
reproduce each release's ID-MRF.

Features are ``(B, C, H, W)``; the total is ``sum_l weight_l * loss_l`` over the VGG19 taps (relu3_2 weight 1,
relu4_2 weight 2 = style + content, as the paper).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F

DEFAULT_LAYER_WEIGHTS: dict[str, float] = {"relu3_2": 1.0, "relu4_2": 2.0}
# Named tap sets with their weights (style + content on the deeper tap): the paper's, and the official PyTorch
# release's, whose layer counter calls relu3_1 / relu4_1 "relu3_2" / "relu4_2".
IDMRF_TAPS: dict[str, dict[str, float]] = {
    "paper": DEFAULT_LAYER_WEIGHTS,
    "official_pytorch": {"relu3_1": 1.0, "relu4_1": 2.0},
}
CENTRES = ("target", "location", "batch")
REDUCTIONS = ("mean", "sum")


def _centre(gen: torch.Tensor, tgt: torch.Tensor, centre: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Subtract the target's mean from both ``(B, C, N)`` maps: per channel (ours), per location, or per batch."""
    if centre == "target":
        mean = tgt.mean(dim=2, keepdim=True)  # (B, C, 1)
    elif centre == "location":
        mean = tgt.mean(dim=1, keepdim=True)  # (B, 1, N): official PyTorch
    elif centre == "batch":
        mean = tgt.mean(dim=(0, 2), keepdim=True)  # (1, C, 1): TF release
    else:
        raise ValueError(f"unknown ID-MRF centre {centre!r}; valid ones are {list(CENTRES)}")
    return gen - mean, tgt - mean


def mrf_layer_loss(
    generated: torch.Tensor,
    target: torch.Tensor,
    *,
    max_locations: int = 4225,
    bandwidth: float = 0.5,
    eps: float = 1e-5,
    generator: torch.Generator | None = None,
    centre: str = "target",
    reduction: str = "mean",
) -> torch.Tensor:
    """ID-MRF of one feature layer; scalar, mean (or sum) over the batch.

    Args:
        generated: ``(B, C, H, W)`` features of the completed image.
        target: ``(B, C, H, W)`` features of the ground truth.
        max_locations: subsample to this many locations when ``H * W`` is larger.
        bandwidth: ``h`` of the exponential weighting.
        eps: added to the per-location minimum distance.
        generator: torch RNG for the subsampling (default: the global one).
        centre: ``"target"`` (ours), ``"location"`` (official PyTorch) or ``"batch"`` (TF), see the module doc.
        reduction: over the batch, ``"mean"`` (ours, TF) or ``"sum"`` (official PyTorch).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown ID-MRF reduction {reduction!r}; valid ones are {list(REDUCTIONS)}")
    gen = generated.float().flatten(2)  # (B, C, N)
    tgt = target.float().flatten(2)
    gen, tgt = _centre(gen, tgt, centre)  # statistics of all locations, before any subsampling
    n = gen.shape[-1]
    if n > max_locations:
        idx = torch.randperm(n, generator=generator, device="cpu")[:max_locations].to(gen.device)
        gen, tgt = gen[:, :, idx], tgt[:, :, idx]
    gen = F.normalize(gen, dim=1)
    tgt = F.normalize(tgt, dim=1)
    cos = torch.bmm(tgt.transpose(1, 2), gen)  # (B, N_target, N_generated)
    dist = (1.0 - cos) / 2.0
    rel = dist / (dist.min(dim=1, keepdim=True).values + eps)  # min over targets, per generated location
    w = torch.exp((1.0 - rel) / bandwidth)
    cx = w / w.sum(dim=1, keepdim=True)  # normalised over targets
    best = cx.max(dim=2).values  # (B, N_target): best generated match for each target
    per_sample = -torch.log(best.mean(dim=1).clamp_min(1e-12))
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


def idmrf_loss(
    generated: Mapping[str, torch.Tensor],
    target: Mapping[str, torch.Tensor],
    *,
    layer_weights: Mapping[str, float] = DEFAULT_LAYER_WEIGHTS,
    max_locations: int = 4225,
    generator: torch.Generator | None = None,
    centre: str = "target",
    reduction: str = "mean",
) -> torch.Tensor:
    """Weighted sum of :func:`mrf_layer_loss` over feature taps (e.g. from :class:`gmcnn.models.vgg.VGG19Features`)."""
    total = torch.zeros((), device=next(iter(generated.values())).device)
    for name, weight in layer_weights.items():
        total = total + weight * mrf_layer_loss(
            generated[name], target[name], max_locations=max_locations, generator=generator, centre=centre,
            reduction=reduction,
        )  # fmt: skip
    return total


__all__ = ["CENTRES", "DEFAULT_LAYER_WEIGHTS", "IDMRF_TAPS", "REDUCTIONS", "idmrf_loss", "mrf_layer_loss"]
