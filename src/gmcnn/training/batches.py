"""Where training batches come from: the training and validation sets, and an endless, resumable batch stream.

``make_datasets`` reads a corpus built by ``gmcnn corpus build`` (its cache, photos and textures mixed) or any image
folder / file list; :class:`BatchStream` walks the :class:`~gmcnn.data.datasets.ResumableSampler`'s epochs so that a
run resumed after ``batches_seen`` batches sees exactly the batches an uninterrupted run would have seen next.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from gmcnn.data.datasets import (
    CorpusDataset,
    CropDataset,
    EpochStream,
    ImageFileDataset,
    ResumableSampler,
    Sample,
    find_images,
    split_paths,
)
from gmcnn.data.masks import build_mask
from gmcnn.errors import UserError
from gmcnn.training.config import TrainConfig


def quiet_loader(dataset: CropDataset, **kwargs: Any) -> DataLoader[Sample]:
    """A DataLoader with its own torch.Generator: creating its iterator must not draw from the global RNG
    (it would, for the workers' base seed), or a resumed run would diverge from an uninterrupted one. All
    randomness of a sample comes from the dataset's per-sample numpy generator anyway."""
    return DataLoader(dataset, generator=torch.Generator().manual_seed(0), **kwargs)


class BatchStream:
    """Endless batches over epochs, starting after ``batches_seen`` batches (so a resumed run sees the same data)."""

    def __init__(self, dataset: CropDataset, sampler: ResumableSampler, cfg: TrainConfig, *,
                 device: torch.device, batches_seen: int) -> None:  # fmt: skip
        self.dataset, self.sampler, self.cfg, self.device = dataset, sampler, cfg, device
        self.per_epoch = sampler.num_samples // cfg.batch_size
        if self.per_epoch < 1:
            raise UserError(
                f"{sampler.num_samples} training images per process is fewer than batch_size={cfg.batch_size}"
            )
        self.batches_seen = batches_seen
        self._iter: Iterator[Sample] | None = None

    def _start(self) -> Iterator[Sample]:
        epoch, done = divmod(self.batches_seen, self.per_epoch)
        bs = self.cfg.batch_size
        stream = EpochStream(self.sampler, dataset_len=len(self.dataset), per_epoch=self.per_epoch * bs,
                             start_epoch=epoch, skip=done * bs)  # fmt: skip
        loader = quiet_loader(self.dataset, batch_size=bs, sampler=stream, num_workers=self.cfg.num_workers,
                              pin_memory=self.device.type == "cuda")  # fmt: skip
        return iter(loader)

    def seek(self, batches_seen: int) -> None:
        """Continue after ``batches_seen`` batches (a roll-back): the next batch is the one a run that had just
        resumed from there would see."""
        self.batches_seen = batches_seen
        self._iter = None

    def __next__(self) -> Sample:
        if self._iter is None:
            self._iter = self._start()  # one loader for the whole run: its workers live as long as it does
        batch = next(self._iter)
        self.batches_seen += 1
        fmt = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        return Sample(
            batch.image.to(self.device, non_blocking=True, memory_format=fmt),
            batch.mask.to(self.device, non_blocking=True, memory_format=fmt),
            batch.bbox.to(self.device),
        )


def make_datasets(cfg: TrainConfig, rank: int) -> tuple[CropDataset, ImageFileDataset | None]:
    """Training set (random crops, per-rank randomness) and validation set (centre crops, fixed masks).

    ``cfg.data`` may be a corpus built by ``gmcnn corpus build`` (a folder with ``manifest.csv``): training then
    reads its cache, mixing photos and textures by ``cfg.texture_fraction``, and validation defaults to its
    ``val/`` photos. Anything else is an image folder or file list.
    """
    mask, size, scale = build_mask(cfg.mask_type), cfg.image_size, (cfg.crop_scale_min, 1.0)
    if (Path(cfg.data) / "manifest.csv").is_file():
        train_set: CropDataset = CorpusDataset(cfg.data, texture_fraction=cfg.texture_fraction, image_size=size,
                                               mask=mask, seed=cfg.seed, rank=rank, crop_scale=scale)  # fmt: skip
        val_paths = find_images(cfg.val_data or Path(cfg.data) / "val")
    else:
        paths = find_images(cfg.data)
        if cfg.val_data:
            val_paths = find_images(cfg.val_data)
        else:
            paths, val_paths = split_paths(paths, val_fraction=cfg.val_fraction)
        train_set = ImageFileDataset(paths, image_size=size, mask=mask, seed=cfg.seed, rank=rank, crop_scale=scale)
    val_set = None
    if val_paths:
        val_paths = sorted(val_paths)[: cfg.val_images]
        # Seed and rank fixed: every evaluation (and every run with this seed) uses the same masks.
        val_set = ImageFileDataset(val_paths, image_size=size, mask=mask, seed=cfg.seed + 1, augment=False)
    return train_set, val_set


__all__ = ["BatchStream", "make_datasets", "quiet_loader"]
