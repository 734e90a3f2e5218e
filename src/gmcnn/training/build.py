"""Everything that learns in a run, built once: G (through the architecture registry), D, the frozen VGG, the
weight average, both optimisers and their DDP views; resumed from a checkpoint or initialised from an export."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from gmcnn.errors import UserError
from gmcnn.losses.idmrf import IDMRF_TAPS
from gmcnn.models.base import Generator
from gmcnn.models.discriminator import Discriminator
from gmcnn.models.init import scaled_init_
from gmcnn.models.registry import create_model
from gmcnn.models.state_dict import load_state_strict
from gmcnn.models.vgg import VGG19Features
from gmcnn.training import distributed
from gmcnn.training.config import TrainConfig
from gmcnn.training.state import restore_rng
from gmcnn.weights.format import load_generator


def require_vgg(cfg: TrainConfig) -> VGG19Features | None:
    """The frozen VGG for ID-MRF, or None when the run never uses it; stops with a how-to when it is missing."""
    if cfg.idmrf_weight <= 0 or cfg.max_steps <= cfg.pretrain_steps:
        return None
    if not cfg.vgg_weights:
        raise UserError(
            "the ID-MRF loss needs VGG19 weights: pass --vgg-weights PATH (a torchvision vgg19 state dict saved as "
            ".pth or .safetensors; nothing is downloaded) or disable it with --set idmrf_weight=0"
        )
    taps = tuple(IDMRF_TAPS[cfg.idmrf_taps])
    return VGG19Features.from_file(cfg.vgg_weights, taps=taps, input_norm=cfg.vgg_input)


@dataclass
class Models:
    """Everything that learns in a run: G, D, the frozen VGG, the averaged G, both optimisers, the DDP views.

    Attributes:
        generator: the raw generator (unwrapped; what checkpoints save).
        critic: the discriminator (unwrapped).
        vgg: frozen VGG19 features for ID-MRF, or ``None`` when the loss is off.
        ema: the weight-averaged generator, or ``None`` (``ema_decay == 0``).
        opt_g: the generator's optimiser.
        opt_d: the critic's optimiser.
        g_train: the generator as the steps call it (DDP-wrapped when distributed).
        d_train: the critic as the steps call it (DDP-wrapped when distributed).
    """

    generator: Generator
    critic: Discriminator
    vgg: VGG19Features | None
    ema: Generator | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    g_train: torch.nn.Module
    d_train: torch.nn.Module

    @property
    def shown(self) -> Generator:
        """The generator that gets exported, sampled and validated (the average when there is one)."""
        return self.ema if self.ema is not None else self.generator


def generator_config(cfg: TrainConfig) -> dict[str, Any]:
    """The generator's architecture config from the run's model keys: ``cnum``, and ``pad_mode`` / ``fill`` /
    ``fusion_act`` when they differ from their defaults (an architecture without such a key then refuses the run by
    name)."""
    config: dict[str, Any] = {"cnum": cfg.cnum}
    for key in ("pad_mode", "fill", "fusion_act"):
        if getattr(cfg, key) != getattr(TrainConfig, key):
            config[key] = getattr(cfg, key)
    return config


def create_generator(cfg: TrainConfig) -> Generator:
    """A new generator of ``cfg.architecture`` from the registry (:func:`gmcnn.models.registry.create_model`)."""
    try:
        return create_model(cfg.architecture, generator_config(cfg))
    except ValueError as exc:  # unknown architecture, or a key it does not take
        raise UserError(f"cannot build the generator: {exc}") from None


def build_models(cfg: TrainConfig, info: distributed.DistInfo) -> tuple[Generator, Discriminator, VGG19Features | None]:
    """G, D and the VGG, built from the run's seed in a forked RNG: the same initial weights on every rank, and
    the training RNG does not depend on which models were built (e.g. whether a VGG was needed)."""
    device = info.device
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        generator = create_generator(cfg).to(device)
        if cfg.init == "scaled":
            scaled_init_(generator)
        critic = Discriminator(image_size=cfg.image_size, width=cfg.d_cnum, local=cfg.local_critic,
                               spectral_norm=cfg.spectral_norm, sn_order=cfg.sn_order).to(device)  # fmt: skip
        vgg = require_vgg(cfg)
    generator.to(memory_format=fmt)  # type: ignore[call-overload]  # (torch's stubs lack memory_format)
    critic.to(memory_format=fmt)  # type: ignore[call-overload]
    if vgg is not None:
        vgg.to(device)
    return generator, critic, vgg


def prepare_models(
    cfg: TrainConfig, info: distributed.DistInfo, *, state: dict[str, Any] | None, init_from: str | None
) -> tuple[Models, int, int]:
    """Build (the critic exists from the start so every checkpoint has the same layout), initialise from an export,
    average, wrap and resume; returns the models, the step and the batches seen so far."""
    generator, critic, vgg = build_models(cfg, info)
    if state is None and init_from:
        source, _ = load_generator(init_from)
        if source.config != generator.config:
            raise UserError(f"--init-from {init_from} has {source.config}, the run wants {generator.config}")
        generator.load_state_dict(source.state_dict())
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))
    # Per-rank training randomness (GP interpolation, ID-MRF subsampling); data randomness is per sample.
    torch.manual_seed(distributed.rank_seed(cfg.seed, info.rank))
    np.random.seed(distributed.rank_seed(cfg.seed, info.rank) % 2**32)
    random.seed(distributed.rank_seed(cfg.seed, info.rank))  # nothing draws from it today; reruns stay equal anyway
    # The averaged generator smooths out the step-to-step jitter of the weights (at a constant learning rate the
    # raw weights' fills wobble by ~0.5 dB between checkpoints); it is what gets exported, sampled and validated.
    ema = copy.deepcopy(generator).eval().requires_grad_(False) if cfg.ema_decay > 0 else None
    # DDP: gradients of G and D are averaged across ranks; steps use the unwrapped modules where noted. The critic
    # keeps broadcast_buffers on: DDP writes rank 0's spectral-norm vectors before every call without bumping
    # autograd's version counters, so critic_calls="separate" (three calls before one backward) works as is and
    # every rank scores with rank 0's vectors (tests/test_ddp.py runs both D-step forms on 2 gloo processes).
    g_train: torch.nn.Module = DDP(generator) if info.distributed else generator
    d_train: torch.nn.Module = DDP(critic) if info.distributed else critic
    m = Models(generator, critic, vgg, ema, opt_g, opt_d, g_train, d_train)
    step, batches_seen = restore(m, state, info) if state is not None else (0, 0)
    return m, step, batches_seen


def restore(m: Models, state: dict[str, Any], info: distributed.DistInfo) -> tuple[int, int]:
    """Load a checkpoint into the run's models in place (a resume, or a roll-back); returns its step and the
    batches seen by then. Each rank's random streams continue exactly when the job has the same shape."""
    load_state_strict(m.generator, state["generator"], source="checkpoint")
    m.critic.load_state_dict(state["critic"])
    m.opt_g.load_state_dict(state["opt_generator"])
    m.opt_d.load_state_dict(state["opt_critic"])
    if m.ema is not None:  # a run that turned the average on when resuming starts it from the weights
        m.ema.load_state_dict(state.get("generator_ema", m.generator.state_dict()))
    if len(state["rng"]) == info.world_size:
        restore_rng(state["rng"][info.rank])
    return state["step"], state["batches_seen"]


__all__ = ["Models", "build_models", "create_generator", "generator_config", "prepare_models", "require_vgg", "restore"]
