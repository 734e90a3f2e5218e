"""The exported-generator format (safetensors + JSON): write one, read one back into a network.

An *export* is a directory (or a ``.safetensors`` file with a sibling ``.json``) holding:

* ``generator.safetensors`` — the generator ``state_dict`` (official key names, float32);
* ``generator.json`` — ``{"format": "gmcnn-generator", "version": 1, "architecture": "gmcnn",
  "config": {...}, "contract": {...}, "training": {...}, "sha256": <of the safetensors file>}``
  (``architecture`` names the :mod:`gmcnn.models.registry` entry; absent means ``"gmcnn"``).

The *contract* says how to feed the weights (value range [-1, 1], RGB, mask polarity 1 = hole, size
multiple, minimum size) and what they were trained on (image size, mask type), like torchvision's
``Weights`` metadata; :class:`gmcnn.weights.contract.Contract` reads it. Loading checks the format, the version
and the sha256. Training state (G, D, optimisers, step, RNG) is saved by :mod:`gmcnn.training.state`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gmcnn.errors import UserError
from gmcnn.files import atomic_write, sha256_file
from gmcnn.models.base import Generator
from gmcnn.models.registry import DEFAULT_ARCHITECTURE, architecture_of, create_model
from gmcnn.models.state_dict import load_state_strict, strip_wrappers
from gmcnn.weights.contract import Contract

EXPORT_FORMAT = "gmcnn-generator"
EXPORT_VERSION = 1
WEIGHTS_NAME = "generator.safetensors"
CONFIG_NAME = "generator.json"


def export_generator(
    generator: Generator,
    directory: str | os.PathLike[str],
    *,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``generator.safetensors`` + ``generator.json`` into ``directory``; returns the JSON path.

    A new ``directory`` appears whole: both files are written into a hidden sibling folder that is then renamed,
    so a reader (or a process killed mid-way) sees no export or the complete pair. Into an existing folder each
    file is replaced atomically, but one after the other; a training run therefore publishes its exports into
    new folders (:func:`gmcnn.training.state.publish_export`).

    Args:
        generator: the network (unwrapped or DDP/compiled: prefixes are stripped).
        directory: destination folder, created if needed.
        training: free-form facts about training (image size, mask type, steps, data), kept in the JSON.
    """
    directory = Path(directory)
    if directory.exists():
        return _write_pair(generator, directory, training)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        _write_pair(generator, tmp, training)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700 folders; an export gets the usual permissions
        os.rename(tmp, directory)  # fails, leaving nothing, if the folder appeared meanwhile
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory / CONFIG_NAME


def _write_pair(generator: Generator, directory: Path, training: Mapping[str, Any] | None) -> Path:
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in strip_wrappers(generator.state_dict()).items()
    }
    weights = atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp)))
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "architecture": architecture_of(generator).name,
        "config": generator.config.to_dict(),
        "contract": Contract.for_config(generator.config).feeding(),
        "training": dict(training or {}),
        "sha256": sha256_file(weights),
    }
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    return atomic_write(directory / CONFIG_NAME, lambda tmp: tmp.write_text(text))


def read_export_meta(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """Find and validate an export's JSON; ``path`` is the folder, the JSON or the safetensors file."""
    path = Path(path)
    if path.is_dir():
        weights, meta_path = path / WEIGHTS_NAME, path / CONFIG_NAME
    elif path.suffix == ".json":
        meta_path, weights = path, path.with_suffix(".safetensors")
    else:
        weights, meta_path = path, path.with_suffix(".json")
    if not meta_path.is_file() or not weights.is_file():
        raise FileNotFoundError(f"no gmcnn export at {path}: expected {weights.name} and {meta_path.name}")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{meta_path} is not valid JSON: {exc}") from None
    if meta.get("format") != EXPORT_FORMAT:
        raise UserError(f"{meta_path} is not a gmcnn generator export (format={meta.get('format')!r})")
    if meta.get("version") != EXPORT_VERSION:
        raise UserError(f"{meta_path} has export version {meta.get('version')}, this gmcnn reads {EXPORT_VERSION}")
    return weights, meta


def load_generator(path: str | os.PathLike[str], *, verify: bool = True) -> tuple[Generator, dict[str, Any]]:
    """Load an export written by :func:`export_generator`; returns (generator in eval mode, metadata).

    Raises:
        FileNotFoundError: nothing at ``path``.
        UserError: wrong format or version, sha256 mismatch, or weights that do not fit the config.
    """
    weights, meta = read_export_meta(path)
    if verify and meta.get("sha256") and sha256_file(weights) != meta["sha256"]:
        raise UserError(f"{weights} does not match the sha256 recorded in its JSON: the file is damaged or changed")
    generator = create_model(meta.get("architecture", DEFAULT_ARCHITECTURE), meta["config"])
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise UserError(f"cannot read {weights}: {exc}") from None
    load_state_strict(generator, state, source=str(weights))
    generator.eval()
    return generator, meta
