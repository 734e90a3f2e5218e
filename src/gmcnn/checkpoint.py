"""Files on disk: atomic writes, and the exported-generator format (safetensors + JSON).

An *export* is a directory (or a ``.safetensors`` file with a sibling ``.json``) holding:

* ``generator.safetensors`` — the generator ``state_dict`` (official key names, float32);
* ``generator.json`` — ``{"format": "gmcnn-generator", "version": 1, "config": GMCNNConfig,
  "contract": {...}, "training": {...}, "sha256": <of the safetensors file>}``.

The *contract* says how to feed the weights (value range [-1, 1], RGB, mask polarity 1 = hole, size
multiple, minimum size) and what they were trained on (image size, mask type), like torchvision's
``Weights`` metadata. Loading checks the format, the version and the sha256.

Training state (G, D, optimisers, step, RNG) is saved by :mod:`gmcnn.training.state` with the same
atomic-write helper.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gmcnn.errors import UserError
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

EXPORT_FORMAT = "gmcnn-generator"
EXPORT_VERSION = 1
WEIGHTS_NAME = "generator.safetensors"
CONFIG_NAME = "generator.json"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs should get the usual permissions
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_contract(config: GMCNNConfig) -> dict[str, Any]:
    """How to call a generator of this config (written into every export)."""
    return {
        "value_range": [-1.0, 1.0],
        "channel_order": "RGB",
        "mask_polarity": "1=hole",
        "size_multiple": config.size_multiple,
        "min_size": config.min_size,
    }


def strip_wrappers(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The one place that removes DDP's ``module.`` and torch.compile's ``_orig_mod.`` key prefixes."""
    out = {}
    for key, value in state_dict.items():
        for prefix in ("module.", "_orig_mod."):
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def export_generator(
    generator: GMCNN,
    directory: str | os.PathLike[str],
    *,
    training: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``generator.safetensors`` + ``generator.json`` into ``directory`` (atomically); returns the JSON path.

    Args:
        generator: the network (unwrapped or DDP/compiled: prefixes are stripped).
        directory: destination folder, created if needed.
        training: free-form facts about training (image size, mask type, steps, data), kept in the JSON.
    """
    directory = Path(directory)
    state = {
        k: v.detach().to("cpu", torch.float32).contiguous() for k, v in strip_wrappers(generator.state_dict()).items()
    }
    weights = atomic_write(directory / WEIGHTS_NAME, lambda tmp: save_file(state, str(tmp)))
    meta = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "config": generator.config.to_dict(),
        "contract": default_contract(generator.config),
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


def load_generator(path: str | os.PathLike[str], *, verify: bool = True) -> tuple[GMCNN, dict[str, Any]]:
    """Load an export written by :func:`export_generator`; returns (generator in eval mode, metadata).

    Raises:
        FileNotFoundError: nothing at ``path``.
        UserError: wrong format or version, sha256 mismatch, or weights that do not fit the config.
    """
    weights, meta = read_export_meta(path)
    if verify and meta.get("sha256") and sha256_file(weights) != meta["sha256"]:
        raise UserError(f"{weights} does not match the sha256 recorded in its JSON: the file is damaged or changed")
    config = GMCNNConfig.from_dict(meta["config"])
    generator = GMCNN(config)
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types for damaged headers
        raise UserError(f"cannot read {weights}: {exc}") from None
    load_state_strict(generator, state, source=str(weights))
    generator.eval()
    return generator, meta


def load_state_strict(generator: GMCNN, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load a state dict, turning key or shape mismatches into one readable error."""
    state = strip_wrappers(state)
    own = generator.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {unexpected[:3]})")
        if wrong:
            parts.append(f"shape mismatch ({'; '.join(wrong[:3])})")
        raise UserError(f"{source} does not fit GMCNN(cnum={generator.config.cnum}): " + ", ".join(parts))
    generator.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
