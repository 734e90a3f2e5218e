"""Adversarial losses as pure functions of critic scores: WGAN-GP (paper, TF release) and hinge (official PyTorch).

The gradient penalty is restricted to **hole pixels** (TF release): the norm of d score / d input is taken over
the pixels where ``mask == 1`` only, since the critic judges the fill, not the known pixels that are copied from
the real image anyway. Scores are ``(B,)`` tensors.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def wgan_critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``mean(D(fake)) - mean(D(real))`` (minimised by the critic)."""
    return fake.mean() - real.mean()


def hinge_critic_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def generator_adversarial_loss(fake: torch.Tensor) -> torch.Tensor:
    """``-mean(D(fake))``: the generator's term for both WGAN and hinge."""
    return -fake.mean()


def gradient_penalty(scores: torch.Tensor, inputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """WGAN-GP on hole pixels: ``mean((||grad * mask||_2 - 1)^2)`` with the norm per sample.

    Args:
        scores: ``(B,)`` critic scores of ``inputs`` (computed with a graph from ``inputs``).
        inputs: ``(B, 3, H, W)`` interpolates with ``requires_grad``.
        mask: ``(B, 1, H, W)``, 1 = hole.

    Returns:
        scalar penalty (differentiable: ``create_graph=True``).
    """
    (grad,) = torch.autograd.grad(scores.sum(), inputs, create_graph=True)
    norm = torch.sqrt(torch.sum((grad * mask) ** 2, dim=(1, 2, 3)) + 1e-12)  # (B,)
    return torch.mean((norm - 1.0) ** 2)


# Critic losses by ``TrainConfig.gan_loss``; "wgan_gp" adds :func:`gradient_penalty`.
CRITIC_LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "wgan_gp": wgan_critic_loss,
    "hinge": hinge_critic_loss,
}

__all__ = ["CRITIC_LOSSES", "generator_adversarial_loss", "gradient_penalty", "hinge_critic_loss", "wgan_critic_loss"]
