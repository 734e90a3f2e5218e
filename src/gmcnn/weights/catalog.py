"""The models a user can pick: the embedded model, the official releases, and what a models folder holds.

``gmcnn models list`` prints it and ``gmcnn serve --models DIR`` offers it to the page (``GET /api/v1/models``).
A folder is looked at one level deep, without loading anything (cheap enough for every page load):

* the release folders (``places2_512x680_freeform/``, ``celebahq256_rect/`` ...), listed under the release's
  registry name whether present or not;
* exports (a folder with ``generator.json``, or ``NAME.safetensors`` + ``NAME.json``) and training run folders
  (their ``export/``);
* other TF checkpoint folders and official PyTorch ``*.pth`` files (``*_net_GM.pth``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gmcnn.models.gmcnn_tf import SCOPE
from gmcnn.weights import registry
from gmcnn.weights.format import CONFIG_NAME, WEIGHTS_NAME
from gmcnn.weights.install import STAGING, installed, newest_pth
from gmcnn.weights.official_tf import is_tf_checkpoint
from gmcnn.weights.tf_bundle import TensorBundle

EMBEDDED = "default"


@dataclass(frozen=True)
class ModelInfo:
    """One model on offer.

    Attributes:
        name: what the user picks it by (a registry name, or the file / folder name in the models folder).
        description: one line.
        kind: ``"embedded"``, ``"release"``, ``"export"``, ``"run"``, ``"tf"`` or ``"pth"``.
        path: what :func:`gmcnn.weights.load_weights` takes (``None`` for a release not downloaded).
        downloadable: a release not present whose published link is known, and a folder to put it in.
        size: bytes on disk; for a release not present, the published file's size when recorded, else ``None``.
    """

    name: str
    description: str
    kind: str
    path: Path | None
    downloadable: bool = False
    size: int | None = None

    @property
    def available(self) -> bool:
        """Its files are here: it can be loaded now."""
        return self.path is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "available": self.available,
            "downloadable": self.downloadable,
            "size": self.size,
        }


def catalog(directory: str | os.PathLike[str] | None) -> list[ModelInfo]:
    """Every model on offer: the embedded one, each official release, then what ``directory`` holds (sorted).

    Without a folder, releases are listed as neither present nor downloadable.
    """
    folder = Path(directory) if directory is not None else None
    embedded = registry.get(EMBEDDED)
    models = [ModelInfo(EMBEDDED, embedded.description, "embedded", embedded.path, size=_bytes(embedded.path))]
    for entry in registry.releases():
        path = installed(entry, folder) if folder is not None else None
        size = _bytes(path.parent if path is not None and path.is_file() else path)
        if path is None and entry.download is not None:
            size = entry.download.size
        downloadable = path is None and folder is not None and entry.download is not None
        models.append(ModelInfo(entry.name, entry.description, "release", path, downloadable, size))
    if folder is None or not folder.is_dir():
        return models
    taken = {m.name for m in models}
    release_folders = {e.folder for e in registry.releases()}
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.name == STAGING or child.name in release_folders:
            continue
        found = _describe(child)
        if found is None:
            continue
        kind, path, description = found
        name = child.stem if child.is_file() else child.name
        if name in taken:
            name = str(child)
        taken.add(name)
        models.append(ModelInfo(name, description, kind, path, size=_bytes(child)))
    return models


def find(models: list[ModelInfo], name: str) -> ModelInfo | None:
    """The model called ``name`` (also a release's folder name), if offered."""
    for model in models:
        if model.name == name:
            return model
    folders = {e.folder: e.name for e in registry.releases()}
    return find(models, folders[name]) if name in folders else None


def weights_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes of the generator's weights in what ``path`` points at (a :class:`ModelInfo` path), read from the
    files' headers (a TF index lists each tensor's size; critics and optimiser slots are not counted)."""
    path = Path(path)
    if path.is_dir() and (path / CONFIG_NAME).is_file():
        return (path / WEIGHTS_NAME).stat().st_size
    if is_tf_checkpoint(path):
        entries = TensorBundle(path, verify=False).entries.values()
        return sum(e.size for e in entries if e.name.startswith(f"{SCOPE}/") and "/Adam" not in e.name)
    return path.stat().st_size  # a .safetensors export or a .pth: the file is the weights


def _describe(child: Path) -> tuple[str, Path, str] | None:
    """(kind, path to load, description) of one entry of a models folder, or ``None`` when it holds no model."""
    if child.is_dir():
        if (child / CONFIG_NAME).is_file():
            return "export", child, _export_line(child / CONFIG_NAME)
        if (child / "export" / CONFIG_NAME).is_file():
            return "run", child / "export", f"training run (its export): {_export_line(child / 'export' / CONFIG_NAME)}"
        if is_tf_checkpoint(child):
            return "tf", child, "TensorFlow GMCNN checkpoint (TF-release layout)"
        pth = newest_pth(child)
        if pth is not None:
            return "pth", pth, f"official-layout PyTorch GMCNN checkpoint ({pth.name})"
        return None
    if child.suffix == ".safetensors" and child.with_suffix(".json").is_file():
        return "export", child, _export_line(child.with_suffix(".json"))
    if child.suffix in (".pth", ".pt"):
        return "pth", child, "official-layout PyTorch GMCNN checkpoint"
    return None


def _export_line(meta_path: Path) -> str:
    """What an export's JSON says it was trained on, in one line (without loading the weights)."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        return f"gmcnn export with an unreadable {meta_path.name} ({exc})"
    config, training = meta.get("config") or {}, meta.get("training") or {}
    facts = [f"cnum {config['cnum']}" if "cnum" in config else ""]
    facts += [str(training.get(k, "")) for k in ("data", "mask_type")]
    if training.get("image_size"):
        facts.append(f"{training['image_size']} px")
    shown = ", ".join(f for f in facts if f)
    return f"gmcnn export ({shown})" if shown else "gmcnn export"


def _bytes(path: Path | None) -> int | None:
    """Bytes of a file, or of every file under a folder."""
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


__all__ = ["EMBEDDED", "ModelInfo", "catalog", "find", "weights_bytes"]
