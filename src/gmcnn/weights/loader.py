"""The one function that turns a weights name or path into a generator and its contract.

Accepted: a registry name (``"default"`` = the embedded model; an official release's name = its copy in the
default models folder, see :func:`gmcnn.weights.install.default_dir`), a folder holding ``generator.json`` +
``generator.safetensors``, a training run directory (its ``export/``), a ``.safetensors`` export file, or an
official PyTorch ``*_net_GM.pth`` (read with ``weights_only=True``: no pickled code runs), or an official
TensorFlow release (a Saver folder, a ``snap-*`` prefix or its ``.index``; read without TensorFlow).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gmcnn.errors import UserError
from gmcnn.models.base import Generator
from gmcnn.weights import registry
from gmcnn.weights.contract import OFFICIAL_DETAIL, Contract
from gmcnn.weights.format import CONFIG_NAME, load_generator
from gmcnn.weights.official_pth import load_official
from gmcnn.weights.official_tf import is_tf_checkpoint, load_official_tf

OFFICIAL_PTH = "official-celebahq-256-rect"  # the registry entry whose contract official .pth files share


@dataclass
class Weights:
    """Loaded weights.

    Attributes:
        generator: the network, float32, in eval mode.
        contract: how to feed it and what it was trained on (same shape for every source).
        meta: the export metadata (``config``, ``contract``, ``training``, ``sha256`` ...).
        name: a display name (the registry name, the file name or the path).
    """

    generator: Generator
    contract: Contract
    meta: dict[str, Any]
    name: str


def load_weights(name_or_path: str | os.PathLike[str]) -> Weights:
    """Resolve a registry name or a path to loaded weights.

    Raises:
        FileNotFoundError: neither a known name nor an existing path (the message lists the names).
        UserError: an official release not downloaded, a damaged export, or a file that is not a generator.
    """
    text = str(name_or_path)
    path = Path(text)
    if text in registry.names():
        entry = registry.get(text)
        if entry.path is None:
            weights = load_weights(_downloaded(entry))
            weights.name = entry.name
            return weights
        if not (entry.path / CONFIG_NAME).is_file():
            raise UserError(f"the embedded weights are missing from this installation ({entry.path}); reinstall gmcnn")
        return _from_export(entry.path, text)
    if not path.exists():
        raise FileNotFoundError(f"no weights named {text!r} and no such path; known names: {registry.names()}")
    if not (path / CONFIG_NAME).is_file() and is_tf_checkpoint(path):
        return _from_tf(path)
    if path.suffix in (".pth", ".pt"):
        generator = load_official(path)
        release = pth_release(generator.config)
        if release is not None and release.contract is not None:
            contract = release.contract
        else:
            contract = Contract.for_config(generator.config, trained_size=256)
        contract = dataclasses.replace(contract, detail=OFFICIAL_DETAIL)
        meta = {"config": generator.config.to_dict(), **contract.to_meta()}
        return Weights(generator, contract, meta, path.name)
    if path.is_dir() and not (path / CONFIG_NAME).is_file() and (path / "export" / CONFIG_NAME).is_file():
        path = path / "export"  # a training run directory: its latest export
    return _from_export(path, text)


def _downloaded(entry: registry.WeightsEntry) -> Path:
    """Where ``gmcnn models download`` put a release (the default models folder), or a message saying how to."""
    from gmcnn.weights.install import default_dir, installed  # the downloader is needed only for release names

    folder = default_dir()
    path = installed(entry, folder)
    if path is None:
        raise UserError(
            f"weights {entry.name!r} are not in {folder}: download them with `gmcnn models download {entry.name}` "
            f"(or pass the path of the '{entry.folder}' folder you have). {entry.description}"
        )
    return path


def pth_release(config: Any) -> registry.WeightsEntry | None:
    """The official PyTorch release an official-layout ``.pth`` of ``config`` may claim to be, if any.

    The layout says nothing about what a file was trained on: the one release (cnum 32) is CelebA-HQ 256 rect,
    but the official code trains any data set and width. So only a file of the release's width gets the
    release's facts; other files keep how to feed them and claim no training facts.
    """
    entry = registry.get(OFFICIAL_PTH)
    return entry if entry.cnum == config.cnum else None


def _from_tf(path: Path) -> Weights:
    """A released TF checkpoint; its contract from the registry when the folder name says which release."""
    generator, info = load_official_tf(path)
    entry = registry.match_tf_release(Path(info["prefix"]), generator.config.cnum)
    contract = entry.contract if entry and entry.contract else Contract.for_config(generator.config)
    contract = dataclasses.replace(contract, detail=OFFICIAL_DETAIL)
    meta = {"architecture": "gmcnn_tf", "config": generator.config.to_dict(), **contract.to_meta(), "source": info}
    return Weights(generator, contract, meta, entry.name if entry else str(path))


def _from_export(path: Path, name: str) -> Weights:
    generator, meta = load_generator(path)
    return Weights(generator, Contract.from_meta(meta, config=generator.config), meta, name)
