"""Training data: image folders and file lists -> ``Sample(image, mask, bbox)``.

* :class:`ImageFileDataset` takes a list of paths; :class:`ImageFolderDataset` lists a folder recursively and
  :class:`FileListDataset` reads a text file with one path per line (relative paths are relative to the file).
* Files whose header cannot be read are dropped at construction with a warning and counted in ``skipped``;
  a file that fails to decode later (truncated data) is replaced by the next readable one, also with a warning.
* ``augment=True`` (training): a random square crop whose side is ``crop_scale`` x the short side (at least the
  training size when the image allows it), resized to ``image_size``, and a random horizontal flip.
  ``augment=False`` (validation): the centre square, resized.
* Everything random about sample ``index`` — crop, flip and mask — comes from one ``np.random.Generator`` seeded
  with ``(seed, rank, epoch, index)``: a sample is reproducible (and a resumed run sees the same data), with no
  dependence on worker count or order. Call :meth:`ImageFileDataset.set_epoch` before each epoch.

``Sample.image`` is float32 ``(3, H, W)`` RGB in [-1, 1]; ``Sample.mask`` float32 ``(1, H, W)``, 1 = hole;
``Sample.bbox`` int64 ``(4,)`` = (top, left, height, width) of the hole's box (see :mod:`gmcnn.data.masks`).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, DistributedSampler, Sampler

from gmcnn.data.masks import MaskGenerator

if TYPE_CHECKING:
    from gmcnn.data.corpus_cache import CacheItem
from gmcnn.errors import UserError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".tga"}
)


class Sample(NamedTuple):
    """One training example (a NamedTuple so the default ``collate`` batches it field by field)."""

    image: torch.Tensor  # (3, H, W) in [-1, 1]
    mask: torch.Tensor  # (1, H, W), 1 = hole
    bbox: torch.Tensor  # (4,) int64: top, left, height, width


def list_images(root: str | os.PathLike[str]) -> list[Path]:
    """All image files under ``root`` (recursive, sorted, hidden files and folders skipped)."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"image folder {root} does not exist or is not a folder")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(
            Path(dirpath) / f for f in filenames if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS
        )
    return sorted(found)


def read_file_list(list_file: str | os.PathLike[str]) -> list[Path]:
    """Paths from a text file, one per line; blank lines and ``#`` comments ignored; relative to the file."""
    list_file = Path(list_file)
    base = list_file.parent
    paths = []
    for line in list_file.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            p = Path(line)
            paths.append(p if p.is_absolute() else base / p)
    return paths


def split_paths(
    paths: Sequence[Path], *, val_fraction: float, salt: str = "gmcnn-val"
) -> tuple[list[Path], list[Path]]:
    """Deterministic train/validation split by a hash of each file name.

    A file stays on the same side when files are added or removed, unlike a shuffled split.

    Returns:
        ``(train, val)`` path lists.
    """
    train: list[Path] = []
    val: list[Path] = []
    for p in paths:
        digest = hashlib.sha256(f"{salt}:{p.name}".encode()).digest()
        (val if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else train).append(p)
    return train, val


def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - reading the header is the check
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def crop_window(w: int, h: int, *, size: int, scale: float, fx: float, fy: float, augment: bool) -> tuple[float, ...]:
    """The square ``(left, top, side)`` a sample crops from a ``w x h`` image.

    Training (``augment``): side = ``scale`` x the short side, but not below ``size`` when the image allows it
    (no upsampling), placed at the fractions ``fx``, ``fy`` of the free room. Validation: the centre square.
    """
    short = min(w, h)
    if augment:
        side = max(short * scale, min(short, size))
        return fx * (w - side), fy * (h - side), side
    return (w - short) / 2, (h - short) / 2, float(short)


def to_sample(image: np.ndarray, mask: np.ndarray, bbox: Sequence[int]) -> Sample:
    """uint8 ``(S, S, 3)`` image, ``{0, 1}`` mask and box -> a :class:`Sample` of tensors."""
    return Sample(
        image=torch.from_numpy(image).permute(2, 0, 1).float().div_(127.5).sub_(1.0),  # (3, H, W) in [-1, 1]
        mask=torch.from_numpy(mask.astype(np.float32))[None],  # (1, H, W), 1 = hole
        bbox=torch.tensor(bbox, dtype=torch.int64),
    )


class CropDataset(Dataset[Sample]):
    """What every training dataset shares: square crops of ``image_size``, masks, and per-sample randomness.

    Subclasses implement ``__len__`` and ``__getitem__``; :meth:`rng` gives sample ``index`` its generator.

    Args:
        image_size: side of the square training images.
        mask: mask generator ``(h, w, rng) -> (mask, bbox)``.
        seed: base seed; samples are random in ``(seed, rank, epoch, index)``.
        rank: distributed rank (different masks and crops per rank).
        augment: random multi-scale crop + flip (training) instead of the centre crop (validation).
        crop_scale: range of the crop side as a fraction of the image's short side (training only).
    """

    def __init__(self, *, image_size: int, mask: MaskGenerator, seed: int = 0, rank: int = 0, augment: bool = True,
                 crop_scale: tuple[float, float] = (0.5, 1.0)) -> None:  # fmt: skip
        if not 0 < crop_scale[0] <= crop_scale[1] <= 1:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
        self.image_size = image_size
        self.mask = mask
        self.seed = seed
        self.rank = rank
        self.augment = augment
        self.crop_scale = crop_scale
        self.epoch = 0
        self.skipped = 0  # unreadable files dropped or replaced (file-backed datasets)

    def __len__(self) -> int:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Change the random crops and masks (call before building the epoch's iterator)."""
        self.epoch = epoch

    def rng(self, index: int) -> np.random.Generator:
        """The generator behind sample ``index`` in the current epoch.

        An index ``>= len(self)`` means sample ``index % len(self)`` of epoch ``self.epoch + index // len(self)``
        (how :class:`EpochStream` addresses later epochs through one long-lived loader).
        """
        epoch, index = divmod(index, len(self))
        return np.random.default_rng([self.seed, self.rank, self.epoch + epoch, index])

    def draw_crop(self, rng: np.random.Generator) -> tuple[float, float, float, bool]:
        """``(scale, fx, fy, flip)`` of one sample (drawn before anything is decoded)."""
        return rng.uniform(*self.crop_scale), rng.random(), rng.random(), bool(rng.random() < 0.5)

    def finish(self, image: np.ndarray, rng: np.random.Generator) -> Sample:
        """Add the sample's mask (drawn from ``rng`` after the crop) to a cropped image."""
        mask, bbox = self.mask(self.image_size, self.image_size, rng)
        return to_sample(image, mask, bbox)


class ImageFileDataset(CropDataset):
    """Images from a list of paths, cropped and masked for training or validation.

    Args:
        paths: image files.
        check_files: read every header now and drop unreadable files (counted in ``skipped``).
        **kwargs: the options of :class:`CropDataset`.
    """

    def __init__(self, paths: Sequence[str | os.PathLike[str]], *, check_files: bool = True, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        files = [Path(p) for p in paths]
        if check_files:
            good = [p for p in files if _readable(p)]
            self.skipped = len(files) - len(good)
            if self.skipped:
                bad = sorted(set(files) - set(good))
                warnings.warn(
                    f"skipped {self.skipped} unreadable image file(s), e.g. {[str(p) for p in bad[:3]]}", stacklevel=2
                )
            files = good
        if not files:
            raise UserError("no readable images found (expected .jpg/.png/.webp/... files)")
        self.paths = files

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Sample:
        rng = self.rng(index)
        index %= len(self.paths)
        # Draw the crop geometry before decoding, so the sample does not depend on which file finally loads.
        scale, fx, fy, flip = self.draw_crop(rng)
        for offset in range(len(self.paths)):
            path = self.paths[(index + offset) % len(self.paths)]
            try:
                image = self._load(path, scale=scale, fx=fx, fy=fy, flip=flip)
                break
            except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three for damaged files
                warnings.warn(f"skipping unreadable image {path}: {exc}", stacklevel=2)
                self.skipped += 1
        else:
            raise UserError("none of the dataset's images could be decoded")
        return self.finish(image, rng)

    def _load(self, path: Path, *, scale: float, fx: float, fy: float, flip: bool) -> np.ndarray:
        """Decode, crop a square and resize to ``image_size``; returns uint8 ``(S, S, 3)``."""
        size = self.image_size
        with Image.open(path) as im:
            w, h = im.size
            left, top, side = crop_window(w, h, size=size, scale=scale, fx=fx, fy=fy, augment=self.augment)
            # JPEG draft mode decodes at 1/2, 1/4 or 1/8 scale when the crop is much larger than needed.
            reduce = side / size
            im.draft("RGB", (max(1, int(w / reduce)), max(1, int(h / reduce))))
            k = im.size[0] / w
            box = (left * k, top * k, (left + side) * k, (top + side) * k)
            out = im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)
            if flip and self.augment:
                out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            return np.array(out, dtype=np.uint8)  # a writable copy for torch.from_numpy


class CorpusDataset(CropDataset):
    """Training crops from a built corpus's cache (:mod:`gmcnn.data.corpus_cache`), photos and textures mixed.

    Each sample first draws its kind: a texture with probability ``texture_fraction`` (when the split has
    textures), else a photo; then an image of that kind uniformly, then the crop, flip and mask exactly as
    :class:`ImageFileDataset` does (from the same per-sample generator, so runs stay reproducible and
    resumable). The length is the number of images in the split.

    Args:
        corpus_dir: a folder written by ``gmcnn corpus build`` (with its ``cache/``).
        split: ``train`` or ``val``.
        texture_fraction: share of samples cropped from textures, in [0, 1].
        **kwargs: the options of :class:`CropDataset`.
    """

    def __init__(self, corpus_dir: str | os.PathLike[str], *, split: str = "train", texture_fraction: float = 0.25,
                 **kwargs) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        from gmcnn.data.corpus_cache import CorpusCache  # local import: plain folders need no corpus code

        super().__init__(**kwargs)
        if not 0 <= texture_fraction <= 1:
            raise UserError(f"texture_fraction must be in [0, 1], got {texture_fraction}")
        self.cache = CorpusCache(corpus_dir)
        items = [item for item in self.cache.items if item.split == split]
        self.photos = [item for item in items if item.kind == "photo"]
        self.textures = [item for item in items if item.kind == "texture"]
        if not items:
            raise UserError(f"{corpus_dir}: the training cache has no {split} images")
        # A split with one kind only samples that kind, whatever the fraction says.
        self.texture_fraction = 0.0 if not self.textures else 1.0 if not self.photos else texture_fraction

    def __len__(self) -> int:
        return len(self.photos) + len(self.textures)

    def pick(self, index: int) -> tuple[np.random.Generator, CacheItem]:
        """Sample ``index``'s generator (after the draws that chose it) and the cached image it crops."""
        rng = self.rng(index)
        pool = self.textures if rng.random() < self.texture_fraction else self.photos
        return rng, pool[int(rng.integers(len(pool)))]

    def __getitem__(self, index: int) -> Sample:
        rng, item = self.pick(index)
        scale, fx, fy, flip = self.draw_crop(rng)
        pixels = self.cache.pixels(item)
        left, top, side = crop_window(item.width, item.height, size=self.image_size, scale=scale, fx=fx, fy=fy,
                                      augment=self.augment)  # fmt: skip
        x0, y0 = int(round(left)), int(round(top))
        s = max(1, min(int(round(side)), item.width - x0, item.height - y0))
        crop = Image.fromarray(np.ascontiguousarray(pixels[y0 : y0 + s, x0 : x0 + s]))
        if s != self.image_size:
            crop = crop.resize((self.image_size, self.image_size), Image.Resampling.BICUBIC, reducing_gap=3.0)
        if flip and self.augment:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return self.finish(np.array(crop, dtype=np.uint8), rng)


class ImageFolderDataset(ImageFileDataset):
    """Every image under ``root`` (recursive); see :class:`ImageFileDataset` for the options."""

    def __init__(self, root: str | os.PathLike[str], **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(list_images(root), **kwargs)


class FileListDataset(ImageFileDataset):
    """Images named in a text file (one path per line); see :class:`ImageFileDataset` for the options."""

    def __init__(self, list_file: str | os.PathLike[str], **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(read_file_list(list_file), **kwargs)


def find_images(source: str | os.PathLike[str]) -> list[Path]:
    """Image paths from a folder (recursive) or a file list (``.txt``)."""
    source = Path(source)
    if source.is_file():
        return read_file_list(source)
    return list_images(source)


class ResumableSampler(DistributedSampler[int]):
    """``DistributedSampler`` that can start an epoch part-way through (to resume a run where it stopped).

    Shuffling depends only on ``(seed, epoch)``, so after ``set_position(epoch, skip)`` the remaining indices are
    exactly those an uninterrupted run would have drawn.
    """

    def __init__(self, dataset: Dataset[Sample], *, num_replicas: int, rank: int, seed: int) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed, drop_last=True)
        self.skip = 0

    def set_position(self, epoch: int, skip: int) -> None:
        """Iterate epoch ``epoch`` from its ``skip``-th index (per replica)."""
        self.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return iter(list(super().__iter__())[self.skip :])

    def __len__(self) -> int:
        return self.num_samples - self.skip


class EpochStream(Sampler[int]):
    """Endless sample indices, epoch after epoch, for one long-lived ``DataLoader``.

    Epoch ``e``'s order is ``sampler``'s (set to epoch ``e``), truncated to ``per_epoch`` indices (whole batches),
    and each index is sent as ``e * dataset_len + index`` so the dataset draws that epoch's crops and masks
    (:meth:`ImageFileDataset.rng`). Why: re-creating the loader every epoch restarts its worker processes; with a
    small corpus (58 photos = 7 batches) that stalled training for seconds every 7 steps.

    Args:
        sampler: per-epoch order (shuffled per epoch, per rank).
        dataset_len: ``len(dataset)``.
        per_epoch: indices used per epoch (``batches_per_epoch * batch_size``).
        start_epoch, skip: where to start (a resumed run continues exactly where it stopped).
    """

    def __init__(self, sampler: ResumableSampler, *, dataset_len: int, per_epoch: int, start_epoch: int = 0,
                 skip: int = 0) -> None:  # fmt: skip
        self.sampler, self.dataset_len, self.per_epoch = sampler, dataset_len, per_epoch
        self.start_epoch, self.skip = start_epoch, skip

    def __iter__(self) -> Iterator[int]:
        epoch, skip = self.start_epoch, self.skip
        while True:
            self.sampler.set_position(epoch, 0)
            order = list(self.sampler)[skip : self.per_epoch]
            yield from (epoch * self.dataset_len + i for i in order)
            epoch, skip = epoch + 1, 0


__all__ = [
    "IMAGE_EXTENSIONS",
    "CorpusDataset",
    "CropDataset",
    "EpochStream",
    "FileListDataset",
    "ImageFileDataset",
    "ImageFolderDataset",
    "ResumableSampler",
    "Sample",
    "find_images",
    "list_images",
    "read_file_list",
    "crop_window",
    "split_paths",
    "to_sample",
]
