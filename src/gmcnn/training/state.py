"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint is ``<run_dir>/checkpoints/step_<step:08d>.pt`` (``torch.save`` of plain dicts/tensors, read back
with ``weights_only=True``) holding::

    format, version, step, stage, batches_seen,
    generator, critic            state dicts (DDP/compile prefixes stripped)
    opt_generator, opt_critic    optimiser state dicts
    rng                          one entry per rank: python, numpy (global) and torch (CPU, CUDA) RNG states
    config                       the TrainConfig as a dict
    rank_digests                 sha256 of G + D weights on each rank when saved (all equal under DDP)
    generator_ema, health        the weight average and the health record, when the run has them

"Latest" is the largest step number parsed from the file names (the official code sorted date strings).
Only the newest ``keep_last`` files are kept. The format is versioned; loaders of newer versions must keep
reading version 1.

The run's export (what ``Inpainter.from_pretrained(run_dir)`` loads) is published the same way: the generator's
two files are written into a new folder ``exports/step_<step:08d>/``, then the symlink ``export`` is switched to it
with one rename, so a process killed at any instant leaves ``export`` naming the old pair or the new pair, never
new weights beside an old JSON (:func:`publish_export`).
"""

from __future__ import annotations

import os
import random
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gmcnn.errors import UserError
from gmcnn.files import atomic_write
from gmcnn.models.base import Generator
from gmcnn.models.state_dict import strip_wrappers
from gmcnn.weights.format import export_generator

CHECKPOINT_FORMAT = "gmcnn-training-state"
CHECKPOINT_VERSION = 1
CHECKPOINT_DIR = "checkpoints"
EXPORT_LINK = "export"  # what loaders open (gmcnn.weights.loader: a run directory's export/)
EXPORTS_DIR = "exports"  # the published exports the link points into, one folder per step
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
    """Delete what a process killed while writing leaves behind: half-written checkpoint temp files (inside
    :func:`save_checkpoint`), export folders never published and temp links (inside :func:`publish_export`).

    None of them is ever loaded (checkpoints must match ``step_*.pt``; loaders follow the ``export`` link only);
    this reclaims their disk space. Call it only while no process of the run is writing (at start-up).
    """
    folder = checkpoint_dir(run_dir)
    stale = sorted(folder.glob(".step_*.pt.*.tmp")) if folder.is_dir() else []
    exports = Path(run_dir) / EXPORTS_DIR
    if exports.is_dir():
        live = _linked_export(Path(run_dir))
        # Hidden folders were never complete; others are older exports, kept only while no link names one.
        stale += [p for p in sorted(exports.iterdir()) if p.name.startswith(".") or (live and p != live)]
    stale += sorted(Path(run_dir).glob(f".{EXPORT_LINK}.*.tmp"))
    for path in stale:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
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
    health: dict[str, Any] | None = None,
    protect_step: int | None = None,
) -> Path:
    """Write ``step_<step>.pt`` atomically, then delete all but the newest ``keep_last`` and the newest at or before
    ``protect_step`` (the roll-back target, :mod:`gmcnn.training.health`); returns the path."""
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
    if health is not None:
        state["health"] = health
    path = atomic_write(checkpoint_dir(run_dir) / f"step_{step:08d}.pt", lambda tmp: torch.save(state, tmp))
    found = list_checkpoints(run_dir)
    protected = [p for s, p in found if protect_step is not None and s <= protect_step][-1:]
    for _, old in found[:-keep_last]:
        if old not in protected:
            old.unlink(missing_ok=True)
    return path


def publish_export(
    generator: Generator, run_dir: str | os.PathLike[str], *, step: int, training: Mapping[str, Any]
) -> Path:
    """Export ``generator`` as the run's ``export`` atomically; returns the new export folder.

    The pair appears whole as ``exports/step_<step>`` (:func:`~gmcnn.weights.format.export_generator` writes a new
    folder under a hidden name and renames it), then the ``export`` symlink (relative, so the run directory can
    move) is replaced by a new one in a single rename. Earlier exports are then deleted except the one just
    replaced, which a reader may still be opening.
    """
    run_dir = Path(run_dir)
    exports = run_dir / EXPORTS_DIR
    previous = _linked_export(run_dir)
    target = exports / f"step_{step:08d}"
    if target == previous:  # the same step exported again (e.g. after a roll-back): never touch what the link names
        target = exports / f"step_{step:08d}-{os.getpid()}"
    if target.exists():
        shutil.rmtree(target)  # left by a process killed before it switched the link: never published
    export_generator(generator, target, training=training)
    link = run_dir / EXPORT_LINK
    if link.exists() and not link.is_symlink():
        # A run directory from before exports were published by link: its real folder moves aside first (the only
        # moment a kill could leave no export link, once per such run; the folder stays in exports/).
        os.replace(link, exports / "legacy")
    tmp_link = run_dir / f".{EXPORT_LINK}.{os.getpid()}.tmp"
    tmp_link.unlink(missing_ok=True)
    os.symlink(Path(EXPORTS_DIR) / target.name, tmp_link, target_is_directory=True)
    os.replace(tmp_link, link)
    _fsync_dir(run_dir)
    for old in exports.iterdir():
        if old not in (target, previous) and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return target


def _linked_export(run_dir: Path) -> Path | None:
    """The export folder the ``export`` link names, or None."""
    link = run_dir / EXPORT_LINK
    return (run_dir / os.readlink(link)) if link.is_symlink() else None


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a power cut must not resurrect the old link)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    "publish_export",
    "remove_stale_temps",
    "restore_rng",
    "save_checkpoint",
]
