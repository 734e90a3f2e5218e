"""One generator update's loss and one critic update's loss, as functions: ``(loss, logs)``, no I/O, no optimiser.

``generator_step`` always has the reconstruction terms (confidence-weighted hole L1 x ``hole_weight`` and known L1
x ``known_weight``); with ``patch_mrf_weight > 0`` the VGG-free patch ID-MRF of :mod:`gmcnn.losses.patch_mrf` on
the composite's hole (both stages); given a VGG it adds ID-MRF on the hole's bbox crop of the completed image vs.
the ground truth, and given a critic the adversarial term. ``discriminator_step`` scores real, fake (and, for
WGAN-GP, interpolated) images in **one** critic call by default, or in separate calls in the official PyTorch
order (``TrainConfig.critic_calls``, :func:`critic_scores`).

A batch is ``(image (B,3,H,W) in [-1,1], mask (B,1,H,W) 1=hole, bbox (B,4))``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from gmcnn.data.datasets import Sample
from gmcnn.losses.adversarial import CRITIC_LOSSES, generator_adversarial_loss, gradient_penalty
from gmcnn.losses.idmrf import IDMRF_TAPS, idmrf_loss
from gmcnn.losses.patch_mrf import patch_mrf_loss
from gmcnn.losses.reconstruction import (
    confidence_l1,
    confidence_l2,
    confidence_weights,
    hole_l1,
    hole_l2,
    known_l1,
)
from gmcnn.models.discriminator import crop_boxes
from gmcnn.training.config import TrainConfig

Logs = dict[str, float]


def autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 autocast for the forward passes when ``enabled`` (``TrainConfig.bf16``)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)


@contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Temporarily stop gradients into ``module``'s parameters (they still flow through it to its inputs)."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def hole_loss(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The hole reconstruction term named by ``cfg.hole_loss``."""
    if cfg.hole_loss == "l1":
        return hole_l1(pred, image, mask)
    if cfg.hole_loss == "l2":
        return hole_l2(pred, image, mask)
    weights = confidence_weights(
        mask,
        kernel=cfg.conf_kernel,
        size=cfg.conf_size,
        sigma=cfg.conf_sigma,
        iterations=cfg.conf_iterations,
        padding=cfg.conf_padding,
    )
    if cfg.hole_loss == "confidence_l2":
        return confidence_l2(pred, image, mask, weights)
    return confidence_l1(pred, image, mask, weights)


def generator_step(
    generator: nn.Module,
    batch: Sample,
    cfg: TrainConfig,
    *,
    critic: nn.Module | None = None,
    vgg: nn.Module | None = None,
) -> tuple[torch.Tensor, Logs]:
    """Generator loss for one batch.

    Args:
        generator: GMCNN (possibly DDP-wrapped); called once.
        batch: image, mask, bbox on the training device.
        cfg: loss weights, confidence kernel, ID-MRF subsampling, bf16.
        critic: the *unwrapped* :class:`~gmcnn.models.discriminator.Discriminator` for the adversarial term
            (its parameters get no gradient here), or None in the pretrain stage.
        vgg: frozen :class:`~gmcnn.models.vgg.VGG19Features` for ID-MRF, or None.

    Returns:
        ``(loss, logs)`` with the weighted total and each unweighted term.
    """
    image, mask, bbox = batch
    with autocast(image.device, cfg.bf16):
        pred = generator(image, mask)
    pred = pred.float()  # (B, 3, H, W); losses in float32
    hole = hole_loss(pred, image, mask, cfg)
    known = known_l1(pred, image, mask)
    loss = cfg.hole_weight * hole + cfg.known_weight * known
    # "hole_l1" for both L1 variants: the key the curves and earlier runs use
    logs = {"hole_l2" if cfg.hole_loss.endswith("l2") else "hole_l1": hole.item(), "known_l1": known.item()}
    inpainted = pred * mask + image * (1.0 - mask)
    if cfg.patch_mrf_weight > 0:
        patch_mrf = patch_mrf_loss(inpainted, image, mask, max_locations=cfg.patch_mrf_locations)
        loss = loss + cfg.patch_mrf_weight * patch_mrf
        logs["patch_mrf"] = patch_mrf.item()
    if vgg is not None and cfg.idmrf_weight > 0:
        size = cfg.image_size // 2  # the paper's 128x128 box at 256x256
        mrf = idmrf_loss(
            vgg(crop_boxes(inpainted, bbox, size)),
            vgg(crop_boxes(image, bbox, size)),
            layer_weights=IDMRF_TAPS[cfg.idmrf_taps],
            max_locations=cfg.idmrf_max_locations,
            centre=cfg.idmrf_centre,
            reduction=cfg.idmrf_reduction,
        )
        loss = loss + cfg.idmrf_weight * mrf
        logs["idmrf"] = mrf.item()
    if critic is not None and cfg.adv_weight > 0:
        with frozen(critic):
            score_global, score_local = critic(inpainted, mask, bbox)
        adv = generator_adversarial_loss(score_global) + generator_adversarial_loss(score_local)
        loss = loss + cfg.adv_weight * adv
        logs["g_adv"] = adv.item()
    logs["g_loss"] = loss.item()
    return loss, logs


def critic_scores(
    critic: nn.Module, parts: list[torch.Tensor], mask: torch.Tensor, bbox: torch.Tensor, *, calls: str
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(global, local)`` scores of each image batch in ``parts`` = [real, fake, (interpolates)].

    ``calls="concat"`` scores them in one critic call on their concatenation; ``"separate"`` calls the critic on
    each in the official PyTorch order (fake, then real, then the interpolates). Without spectral norm the two
    give the same scores; with it, every training-mode call advances the power iteration, so the official
    D loss needs one call per batch.
    """
    n = parts[0].shape[0]
    if calls == "concat":
        k = len(parts)
        score_global, score_local = critic(torch.cat(parts), mask.repeat(k, 1, 1, 1), bbox.repeat(k, 1))
        return list(zip(score_global.split(n), score_local.split(n), strict=True))
    order = [1, 0, *range(2, len(parts))]
    scores = {i: critic(parts[i], mask, bbox) for i in order}
    return [scores[i] for i in range(len(parts))]


def discriminator_step(
    critic: nn.Module, generator: nn.Module, batch: Sample, cfg: TrainConfig
) -> tuple[torch.Tensor, Logs]:
    """Critic loss for one batch (global + local; WGAN-GP with the hole-restricted penalty, or hinge).

    Args:
        critic: :class:`~gmcnn.models.discriminator.Discriminator`, possibly DDP-wrapped; called once, or once
            per image batch with ``cfg.critic_calls == "separate"``.
        generator: the *unwrapped* generator (run without gradients).
        batch: image, mask, bbox on the training device.
        cfg: ``gan_loss``, ``gp_weight``, ``critic_calls``, bf16.
    """
    image, mask, bbox = batch
    with torch.no_grad(), autocast(image.device, cfg.bf16):
        pred = generator(image, mask)
    fake = pred.float() * mask + image * (1.0 - mask)  # the composite is what the generator will be judged on
    parts = [image, fake]
    interp = None
    if cfg.gan_loss == "wgan_gp":
        alpha = torch.rand(image.shape[0], 1, 1, 1, device=image.device)
        interp = (alpha * image + (1.0 - alpha) * fake).requires_grad_(True)
        parts.append(interp)
    (g_real, l_real), (g_fake, l_fake), *interp_scores = critic_scores(
        critic, parts, mask, bbox, calls=cfg.critic_calls
    )
    critic_loss = CRITIC_LOSSES[cfg.gan_loss]
    loss = critic_loss(g_real, g_fake) + critic_loss(l_real, l_fake)
    logs = {
        "d_global_gap": (g_real.mean() - g_fake.mean()).item(),  # the Wasserstein estimate for WGAN
        "d_local_gap": (l_real.mean() - l_fake.mean()).item(),
    }
    if interp is not None:
        g_interp, l_interp = interp_scores[0]
        gp = gradient_penalty(g_interp, interp, mask) + gradient_penalty(l_interp, interp, mask)
        loss = loss + cfg.gp_weight * gp
        logs["gp"] = gp.item()
    logs["d_loss"] = loss.item()
    return loss, logs


__all__ = ["autocast", "critic_scores", "discriminator_step", "frozen", "generator_step", "hole_loss"]
