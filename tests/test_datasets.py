"""Datasets: recursive listing, file lists, corrupt files skipped and counted, crops, reproducible samples, and the
corpus cache's photo/texture sampling mix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.corpus import write_corpus
from PIL import Image

from gmcnn.data.corpus_cache import ensure_cache
from gmcnn.data.datasets import (
    CorpusDataset,
    EpochStream,
    FileListDataset,
    ImageFileDataset,
    ImageFolderDataset,
    ResumableSampler,
    list_images,
    split_paths,
)
from gmcnn.data.masks import RectMask
from gmcnn.errors import UserError


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for i, (sub, ext) in enumerate([(".", "png"), ("a", "jpg"), ("a/b", "webp"), ("a/b", "PNG"), (".hidden", "png")]):
        Image.fromarray(rng.integers(0, 256, (40 + i, 60, 3), dtype=np.uint8)).save(tmp_path / sub / f"im{i}.{ext}")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "broken.jpg").write_bytes(b"\xff\xd8 garbage")
    return tmp_path


def test_lists_recursively_skipping_hidden_and_non_images(folder: Path) -> None:
    paths = list_images(folder)
    assert paths == sorted(paths)
    assert sorted(p.name for p in paths) == ["broken.jpg", "im0.png", "im1.jpg", "im2.webp", "im3.PNG"]


def test_corrupt_files_are_skipped_with_a_warning_and_counted(folder: Path) -> None:
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        ds = ImageFolderDataset(folder, image_size=32, mask=RectMask())
    assert len(ds) == 4 and ds.skipped == 1


def test_truncated_file_at_load_time_falls_back_to_the_next(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.full((40, 40, 3), 200, np.uint8)).save(good)
    bad = tmp_path / "bad.jpg"
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(bad, quality=90)
    bad.write_bytes(bad.read_bytes()[:2000])  # header readable, data truncated
    ds = ImageFileDataset([bad, good], image_size=16, mask=RectMask())
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        sample = ds[0]
    assert ds.skipped == 1
    assert torch.allclose(sample.image, torch.full_like(sample.image, 200 / 127.5 - 1), atol=0.02)


def test_sample_shapes_ranges_and_polarity(folder: Path) -> None:
    with pytest.warns(UserWarning):
        ds = ImageFolderDataset(folder, image_size=32, mask=RectMask())
    s = ds[0]
    assert s.image.shape == (3, 32, 32) and s.image.dtype == torch.float32
    assert s.image.min() >= -1 and s.image.max() <= 1
    assert s.mask.shape == (1, 32, 32) and set(s.mask.unique().tolist()) == {0.0, 1.0}
    top, left, h, w = s.bbox.tolist()
    assert s.mask[0, top : top + h, left : left + w].sum() == s.mask.sum()  # 1 = hole, inside the bbox


def test_reproducible_per_seed_rank_epoch_index(folder: Path) -> None:
    def make(**kw):  # type: ignore[no-untyped-def]
        with pytest.warns(UserWarning):
            return ImageFolderDataset(folder, image_size=32, mask=RectMask(), **kw)

    a, b = make(seed=1), make(seed=1)
    for i in range(len(a)):
        assert torch.equal(a[i].image, b[i].image) and torch.equal(a[i].mask, b[i].mask)
    assert not torch.equal(a[0].mask, make(seed=2)[0].mask) or not torch.equal(a[0].image, make(seed=2)[0].image)
    other_rank = make(seed=1, rank=1)
    assert any(not torch.equal(a[i].mask, other_rank[i].mask) for i in range(len(a)))
    b.set_epoch(1)
    assert any(not torch.equal(a[i].mask, b[i].mask) for i in range(len(a)))


def test_validation_mode_is_centre_crop_without_flip(tmp_path: Path) -> None:
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :20] = 255  # white left quarter: cut away by the centre crop
    Image.fromarray(img).save(tmp_path / "x.png")
    ds = ImageFileDataset([tmp_path / "x.png"], image_size=40, mask=RectMask(), augment=False)
    assert ds[0].image.max() == -1  # only the black centre square
    train = ImageFileDataset([tmp_path / "x.png"], image_size=40, mask=RectMask(), crop_scale=(1.0, 1.0))
    lefts = set()
    for epoch in range(12):
        train.set_epoch(epoch)
        lefts.add(float(train[0].image[0, :, 0].mean()) > 0)
    assert lefts == {True, False}  # random crops / flips sometimes include the white quarter at the left edge


def test_file_list_relative_to_the_list(folder: Path) -> None:
    (folder / "list.txt").write_text("# train files\nim0.png\n\na/im1.jpg\n")
    ds = FileListDataset(folder / "list.txt", image_size=16, mask=RectMask())
    assert [p.name for p in ds.paths] == ["im0.png", "im1.jpg"]


def test_empty_folder_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no readable images"):
        ImageFolderDataset(tmp_path, image_size=16, mask=RectMask())


def test_split_is_deterministic_and_stable(tmp_path: Path) -> None:
    paths = [tmp_path / f"{i}.png" for i in range(1000)]
    train, val = split_paths(paths, val_fraction=0.1)
    assert len(train) + len(val) == 1000 and 60 < len(val) < 140
    _, val_more = split_paths(paths + [tmp_path / "new.png"], val_fraction=0.1)
    assert set(val) <= set(val_more)


def test_resumable_sampler_continues_the_same_order() -> None:
    data = list(range(20))
    full = ResumableSampler(data, num_replicas=2, rank=1, seed=3)  # type: ignore[arg-type]
    full.set_position(4, 0)
    order = list(full)
    part = ResumableSampler(data, num_replicas=2, rank=1, seed=3)  # type: ignore[arg-type]
    part.set_position(4, 6)
    assert list(part) == order[6:] and len(part) == len(order) - 6


def test_epoch_stream_addresses_later_epochs_like_set_epoch(folder: Path) -> None:
    with pytest.warns(UserWarning):
        data = ImageFolderDataset(folder, image_size=32, mask=RectMask(), seed=4)
    n = len(data)
    sampler = ResumableSampler(data, num_replicas=1, rank=0, seed=3)
    per_epoch = n - 1  # whole batches only: the last index of every epoch is dropped
    stream = iter(EpochStream(sampler, dataset_len=n, per_epoch=per_epoch, start_epoch=2, skip=1))
    first = [next(stream) for _ in range(per_epoch - 1 + per_epoch)]
    sampler.set_position(2, 0)
    epoch2 = list(sampler)[1:per_epoch]
    sampler.set_position(3, 0)
    epoch3 = list(sampler)[:per_epoch]
    assert first == [2 * n + i for i in epoch2] + [3 * n + i for i in epoch3]
    # Index e * n + i is sample i of epoch e, exactly as after set_epoch(e).
    with pytest.warns(UserWarning):
        same = ImageFolderDataset(folder, image_size=32, mask=RectMask(), seed=4)
    same.set_epoch(3)
    a, b = data[3 * n + 1], same[1]
    assert torch.equal(a.image, b.image) and torch.equal(a.mask, b.mask)


# ------------------------------------------------------------------------------------------ corpus cache


@pytest.fixture()
def coloured_corpus(tmp_path: Path) -> Path:
    """3 red-ish training photos, 5 blue-ish training textures, 1 validation photo; cache built."""
    rng = np.random.default_rng(0)

    def image(channel: int, h: int, w: int) -> np.ndarray:
        pixels = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        pixels[..., channel] = 200
        return pixels

    images = {f"p{i}.png": ("photo", "train", image(0, 300 + 10 * i, 400)) for i in range(3)}
    images |= {f"t{i}.png": ("texture", "train", image(2, 128 + 64 * i, 256)) for i in range(5)}
    images["v.png"] = ("photo", "val", image(1, 256, 256))
    root = write_corpus(tmp_path / "corpus", images)
    ensure_cache(root, progress=False)
    return root


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.75, 1.0])
def test_corpus_sampling_mix_follows_texture_fraction(coloured_corpus: Path, fraction: float) -> None:
    ds = CorpusDataset(coloured_corpus, image_size=64, mask=RectMask(), seed=3, texture_fraction=fraction)
    assert (len(ds.photos), len(ds.textures), len(ds)) == (3, 5, 8)
    n = 4000
    kinds = [ds.pick(i)[1].kind for i in range(n)]
    share = kinds.count("texture") / n
    assert abs(share - fraction) <= 4 * np.sqrt(fraction * (1 - fraction) / n) + 1e-9  # 4 sigma, fixed seed
    for i in range(0, 40, 7):  # the crops really come from the picked kind: blue textures, red photos
        image = ds[i].image
        red, blue = float(image[0].mean()), float(image[2].mean())
        assert (blue > red) == (ds.pick(i)[1].kind == "texture")


def test_corpus_samples_are_reproducible_and_sized(coloured_corpus: Path) -> None:
    kwargs = {"image_size": 64, "mask": RectMask(), "texture_fraction": 0.5, "crop_scale": (0.4, 1.0)}
    a, b = CorpusDataset(coloured_corpus, **kwargs), CorpusDataset(coloured_corpus, **kwargs)
    other = CorpusDataset(coloured_corpus, rank=1, **kwargs)
    for i in (0, 5, 13):
        assert torch.equal(a[i].image, b[i].image) and torch.equal(a[i].mask, b[i].mask)
        assert a[i].image.shape == (3, 64, 64) and a[i].mask.shape == (1, 64, 64)
    assert any(not torch.equal(a[i].image, other[i].image) for i in range(8))
    val = CorpusDataset(coloured_corpus, split="val", image_size=64, mask=RectMask(), augment=False)
    assert len(val) == 1 and float(val[0].image[1].mean()) > float(val[0].image[0].mean())
    with pytest.raises(UserError, match="texture_fraction"):
        CorpusDataset(
            coloured_corpus, texture_fraction=1.5, **{k: v for k, v in kwargs.items() if k != "texture_fraction"}
        )


def test_training_reads_a_built_corpus_through_its_cache(coloured_corpus: Path) -> None:
    from gmcnn.training.batches import make_datasets
    from gmcnn.training.config import TrainConfig

    cfg = TrainConfig(data=str(coloured_corpus), image_size=64, pad_mode="zeros", texture_fraction=0.4)
    train_set, val_set = make_datasets(cfg, rank=0)
    assert isinstance(train_set, CorpusDataset) and train_set.texture_fraction == 0.4
    assert val_set is not None and [p.name for p in val_set.paths] == ["v.png"]  # the corpus's val/ photos
