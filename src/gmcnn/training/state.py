"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint is ``<run_dir>/checkpoints/step_<step:08d>.pt`` (``torch.save`` of plain dicts/tensors, read back
with ``weights_only=True``) holding::

    format, version, step, stage, batches_seen,
    generator, critic            state dicts (DDP/compile prefixes stripped)
    opt_generator, opt_critic    optimiser state dicts
    rng                          one entry per rank: python, numpy (global) and torch (CPU, CUDA) RNG states
    config                       the TrainConfig as a dict
    rank_digests                 sha256 of G + D weights on each rank when saved (all equal under DDP)

"Latest" is the largest step number parsed from the file names (the official code sorted date strings).
Only the newest ``keep_last`` files are kept. The format is versioned; loaders of newer versions must keep
reading version 1.
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gmcnn.errors import UserError
from gmcnn.files import atomic_write
from gmcnn.models.state_dict import strip_wrappers

CHECKPOINT_FORMAT = "gmcnn-training-state"
CHECKPOINT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^step_(\d+)\.pt$")


def capture_rng() -> dict[str, Any]:
    """This process's RNG states in a form ``torch.load(weights_only=True)`` accepts (lists, ints, tensors)."""
    version, internal, gauss = random.getstate()
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)  # legacy=True: ("MT19937", keys, pos, has_gauss, cached_gaussian)
    name, keys, pos, has_gauss, cached = np_state
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *rest))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``[(step, path), ...]`` sorted by step number."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The checkpoint with the largest step, or None."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def remove_stale_temps(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete half-written checkpoint temp files (a process killed inside :func:`save_checkpoint` leaves one).

    They never match the ``step_*.pt`` names, so they are never loaded; this only reclaims their disk space.
    Call it only while no process of the run is writing (at start-up, before the first checkpoint).
    """
    folder = checkpoint_dir(run_dir)
    stale = sorted(folder.glob(".step_*.pt.*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    *,
    step: int,
    stage: str,
    batches_seen: int,
    generator: torch.nn.Module,
    critic: torch.nn.Module,
    opt_generator: torch.optim.Optimizer,
    opt_critic: torch.optim.Optimizer,
    rng: list[dict[str, Any]],
    config: dict[str, Any],
    keep_last: int,
    rank_digests: list[str] | None = None,
    generator_ema: torch.nn.Module | None = None,
) -> Path:
    """Write ``step_<step>.pt`` atomically, then delete all but the newest ``keep_last``; returns the path."""
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "step": step,
        "stage": stage,
        "batches_seen": batches_seen,
        "generator": strip_wrappers(generator.state_dict()),
        "critic": strip_wrappers(critic.state_dict()),
        "opt_generator": opt_generator.state_dict(),
        "opt_critic": opt_critic.state_dict(),
        "rng": rng,
        "config": config,
        "rank_digests": rank_digests or [],
    }
    if generator_ema is not None:
        state["generator_ema"] = generator_ema.state_dict()
    path = atomic_write(checkpoint_dir(run_dir) / f"step_{step:08d}.pt", lambda tmp: torch.save(state, tmp))
    for _, old in list_checkpoints(run_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint (CPU tensors) and check its format and version."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or foreign files raise many different types
        raise UserError(f"cannot read training checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not a gmcnn training checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint version {state.get('version')}; this gmcnn reads {CHECKPOINT_VERSION}")
    return state


__all__ = [
    "CHECKPOINT_VERSION",
    "capture_rng",
    "checkpoint_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "remove_stale_temps",
    "restore_rng",
    "save_checkpoint",
]
