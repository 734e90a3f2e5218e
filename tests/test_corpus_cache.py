"""The training cache: contents (downscaled photos, tiled small textures), reuse, and invalidation by the manifest."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers.corpus import write_corpus
from PIL import Image

from gmcnn.data import corpus
from gmcnn.data.corpus_cache import PHOTO_SHORT, CorpusCache, ensure_cache
from gmcnn.data.manifest import write_manifest
from gmcnn.errors import UserError


def _noise(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus", {
        "big.png": ("photo", "train", _noise(0, 600, 900)),
        "val.png": ("photo", "val", _noise(1, 300, 260)),
        "tile.png": ("texture", "train", _noise(2, 128, 160)),
        "tex.png": ("texture", "train", _noise(3, 300, 300)),
    })  # fmt: skip


def test_cache_holds_every_image_downscaled_or_tiled(small_corpus: Path) -> None:
    info = ensure_cache(small_corpus, progress=False)
    assert info.rebuilt and info.items == 4
    cache = CorpusCache(small_corpus)
    by_name = {item.name: item for item in cache.items}
    big = cache.pixels(by_name["big.png"])
    assert big.shape == (PHOTO_SHORT, 768, 3)  # 600 x 900 -> short side 512
    with Image.open(small_corpus / "train" / "big.png") as im:
        expected = np.asarray(im.convert("RGB").resize((768, 512), Image.Resampling.LANCZOS, reducing_gap=3.0))
    assert np.array_equal(big, expected)
    tile = cache.pixels(by_name["tile.png"])  # 128 px: tiled twice each way to cover 256 px crops
    assert np.array_equal(tile, np.tile(_noise(2, 128, 160), (2, 2, 1)))
    assert np.array_equal(cache.pixels(by_name["tex.png"]), _noise(3, 300, 300))  # small enough: unchanged
    assert {item.split for item in cache.items} == {"train", "val"}


def test_cache_is_reused_and_rebuilt_when_the_manifest_changes(small_corpus: Path) -> None:
    ensure_cache(small_corpus, progress=False)
    assert not ensure_cache(small_corpus, progress=False).rebuilt
    entries = [e for e in corpus.read_manifest(small_corpus / "manifest.csv") if e.name != "tex.png"]
    write_manifest(entries, small_corpus / "manifest.csv")
    with pytest.raises(UserError, match="for another manifest"):
        CorpusCache(small_corpus)
    info = ensure_cache(small_corpus, progress=False)
    assert info.rebuilt and info.items == 3
    assert [item.name for item in CorpusCache(small_corpus).items] == [e.name for e in entries]


def test_missing_cache_and_missing_corpus_are_clear_errors(tmp_path: Path, small_corpus: Path) -> None:
    with pytest.raises(UserError, match="no training cache; run gmcnn corpus build"):
        CorpusCache(small_corpus)
    with pytest.raises(UserError, match="not a built corpus"):
        ensure_cache(tmp_path / "nothing")


def test_pickled_cache_leaves_the_memory_map_behind(small_corpus: Path) -> None:
    ensure_cache(small_corpus, progress=False)
    cache = CorpusCache(small_corpus)
    first = cache.items[0]
    original = np.array(cache.pixels(first))
    clone = pickle.loads(pickle.dumps(cache))  # what a spawned DataLoader worker receives
    assert clone._pixels is None and len(pickle.dumps(cache)) < 10_000
    assert np.array_equal(clone.pixels(first), original)
