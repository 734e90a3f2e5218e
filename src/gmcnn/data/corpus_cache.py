"""The training cache of a built corpus: every image decoded once into one memory-mappable uint8 file.

Decoding a 24-megapixel JPEG for one 256 x 256 crop costs far more than the crop; with two CPU cores and
a few data-loader workers that starves the training step. So ``gmcnn corpus build`` also writes
``DIR/cache/``:

* ``pixels.npy``: one flat uint8 array (``np.load(..., mmap_mode="r")``) holding every image as ``H x W x 3``
  RGB, one after the other. Photos are downscaled so the short side is at most :data:`PHOTO_SHORT` px,
  textures to at most :data:`TEXTURE_SHORT` px; a texture whose short side is below :data:`MIN_SIDE` is
  tiled (game textures are made to repeat seamlessly) until it covers 256 px. A training crop is then a
  slice of the memory map plus one small resize (:class:`gmcnn.data.datasets.CorpusDataset`).
* ``index.json`` (written last, so its presence means the cache is complete): the cache format version,
  the sha256 of the corpus's ``manifest.csv`` it was made from, and per image its name, kind, split,
  scene, offset and shape.

The cache is rebuilt when the manifest's sha256 or the format version differs, so it can never describe
another corpus than the one next to it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from gmcnn.data.corpus import CACHE_DIR, Entry, read_manifest
from gmcnn.errors import UserError

CACHE_VERSION = 1
PHOTO_SHORT = 512  # crops of 0.4-1 x the short side at 256 px still come from >= 205 cached px
TEXTURE_SHORT = 384
MIN_SIDE = 256
INDEX = "index.json"
PIXELS = "pixels.npy"


@dataclass(frozen=True)
class CacheItem:
    """One cached image: where its pixels are in ``pixels.npy`` and what it is."""

    name: str
    kind: str
    split: str
    scene: str
    offset: int
    height: int
    width: int

    @property
    def size(self) -> int:
        return self.height * self.width * 3


@dataclass(frozen=True)
class CacheInfo:
    """What :func:`ensure_cache` found or made."""

    path: Path
    items: int
    nbytes: int
    rebuilt: bool

    def describe(self) -> str:
        state = "rebuilt" if self.rebuilt else "up to date"
        return f"training cache {state}: {self.items} images, {self.nbytes / 1e6:.0f} MB in {self.path}"


def manifest_digest(corpus_dir: str | os.PathLike[str]) -> str:
    """sha256 of the built corpus's ``manifest.csv`` (what the cache header must match)."""
    file = Path(corpus_dir) / "manifest.csv"
    if not file.is_file():
        raise UserError(f"{corpus_dir} is not a built corpus (no manifest.csv); run gmcnn corpus build")
    return hashlib.sha256(file.read_bytes()).hexdigest()


def cached_shape(e: Entry) -> tuple[int, int]:
    """``(height, width)`` an entry gets in the cache (from the manifest alone, before decoding)."""
    short = min(e.width, e.height)
    if e.kind == "texture" and short < MIN_SIDE:
        reps = math.ceil(MIN_SIDE / short)
        return e.height * reps, e.width * reps
    limit = PHOTO_SHORT if e.kind == "photo" else TEXTURE_SHORT
    scale = min(1.0, limit / short)
    return max(1, round(e.height * scale)), max(1, round(e.width * scale))


def decode_for_cache(file: Path, e: Entry) -> np.ndarray:
    """The entry's file as cached: RGB uint8 ``(H, W, 3)`` of :func:`cached_shape`."""
    h, w = cached_shape(e)
    with Image.open(file) as im:
        if (im.width, im.height) != (e.width, e.height):
            raise UserError(f"{file}: {im.width}x{im.height}, the manifest says {e.width}x{e.height}; rebuild")
        if (h, w) != (e.height, e.width) and h <= e.height:
            im.draft("RGB", (w, h))  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that still covers (w, h)
            rgb = im.convert("RGB").resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
        else:
            rgb = im.convert("RGB")
        pixels = np.asarray(rgb, dtype=np.uint8)
    if pixels.shape[:2] != (h, w):  # a small texture: repeat it
        pixels = np.tile(pixels, (h // pixels.shape[0], w // pixels.shape[1], 1))
    return pixels


def _read_index(folder: Path) -> dict | None:  # type: ignore[type-arg]
    try:
        return json.loads((folder / INDEX).read_text())  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def ensure_cache(corpus_dir: Path | str, *, force: bool = False, progress: bool = True) -> CacheInfo:
    """Build ``corpus_dir/cache`` unless it exists for exactly this manifest (see the module docstring).

    Raises:
        UserError: the corpus is not built, or a file does not decode to the size the manifest records.
    """
    corpus_dir = Path(corpus_dir)
    folder = corpus_dir / CACHE_DIR
    digest = manifest_digest(corpus_dir)
    index = _read_index(folder)
    if not force and index and index.get("version") == CACHE_VERSION and index.get("manifest_sha256") == digest:
        return CacheInfo(folder, len(index["items"]), (folder / PIXELS).stat().st_size, rebuilt=False)
    entries = read_manifest(corpus_dir / "manifest.csv")
    folder.mkdir(exist_ok=True)
    (folder / INDEX).unlink(missing_ok=True)  # invalid until the new pixels are complete
    items, offset = [], 0
    for e in entries:
        h, w = cached_shape(e)
        items.append(CacheItem(e.name, e.kind, e.split, e.scene, offset, h, w))
        offset += h * w * 3
    tmp = folder / f".{PIXELS}.tmp"
    pixels = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(offset,))
    from tqdm import tqdm  # local import: only the build shows progress

    for e, item in tqdm(list(zip(entries, items, strict=True)), desc="training cache", disable=not progress):
        pixels[item.offset : item.offset + item.size] = decode_for_cache(corpus_dir / e.relpath, e).ravel()
    pixels.flush()
    del pixels
    tmp.replace(folder / PIXELS)
    header = {"version": CACHE_VERSION, "manifest_sha256": digest, "photo_short": PHOTO_SHORT,
              "texture_short": TEXTURE_SHORT, "min_side": MIN_SIDE,
              "items": [item.__dict__ for item in items]}  # fmt: skip
    (folder / f".{INDEX}.tmp").write_text(json.dumps(header))
    (folder / f".{INDEX}.tmp").replace(folder / INDEX)
    return CacheInfo(folder, len(items), offset, rebuilt=True)


class CorpusCache:
    """A built cache, opened read-only: the item list, and the pixels memory-mapped on first use.

    The memory map is opened lazily and dropped when pickled, so DataLoader workers (forked or spawned) each
    map the file themselves instead of copying it.
    """

    def __init__(self, corpus_dir: str | os.PathLike[str]) -> None:
        corpus_dir = Path(corpus_dir)
        self.folder = corpus_dir / CACHE_DIR
        index = _read_index(self.folder)
        if index is None or index.get("version") != CACHE_VERSION:
            raise UserError(f"{corpus_dir} has no training cache; run gmcnn corpus build {corpus_dir}")
        if index.get("manifest_sha256") != manifest_digest(corpus_dir):
            raise UserError(f"{corpus_dir}'s training cache is for another manifest; run gmcnn corpus build again")
        self.items = [CacheItem(**item) for item in index["items"]]
        self._pixels: np.ndarray | None = None

    def pixels(self, item: CacheItem) -> np.ndarray:
        """The item's ``(H, W, 3)`` uint8 view into the memory map (read-only)."""
        if self._pixels is None:
            self._pixels = np.load(self.folder / PIXELS, mmap_mode="r")
        return self._pixels[item.offset : item.offset + item.size].reshape(item.height, item.width, 3)

    def __getstate__(self) -> dict:  # type: ignore[type-arg]
        return {**self.__dict__, "_pixels": None}


__all__ = ["CacheInfo", "CacheItem", "CorpusCache", "cached_shape", "ensure_cache", "manifest_digest"]
