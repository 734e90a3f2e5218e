"""Training batches: the stream resumes mid-epoch and across epochs exactly where an uninterrupted run would be."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gmcnn.data.datasets import ResumableSampler
from gmcnn.errors import UserError
from gmcnn.training.batches import BatchStream, make_datasets
from gmcnn.training.config import resolve_config


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(7):
        Image.fromarray(rng.integers(0, 256, (36, 44, 3), dtype=np.uint8)).save(root / f"{i}.png")
    return root


def _stream(folder: Path, batches_seen: int, **overrides: object) -> BatchStream:
    cfg = resolve_config("tiny", {"data": str(folder), "val_fraction": 0.0, **overrides})
    train_set, _ = make_datasets(cfg, 0)
    sampler = ResumableSampler(train_set, num_replicas=1, rank=0, seed=cfg.seed)
    return BatchStream(train_set, sampler, cfg, device=torch.device("cpu"), batches_seen=batches_seen)


def test_a_resumed_stream_continues_the_uninterrupted_one(folder: Path) -> None:
    straight = _stream(folder, 0)
    batches = [next(straight) for _ in range(8)]  # 7 images, batch 2: 3 per epoch, so this crosses two epochs
    for start in (1, 3, 5):
        resumed = _stream(folder, start)
        for expected in batches[start : start + 2]:
            got = next(resumed)
            for a, b in zip(got, expected, strict=True):
                assert torch.equal(a, b)
    assert straight.batches_seen == 8
    assert not torch.equal(batches[0].image, batches[3].image)  # a new epoch is reshuffled


def test_fewer_images_than_a_batch_is_explained(folder: Path) -> None:
    with pytest.raises(UserError, match="fewer than batch_size=8"):
        _stream(folder, 0, batch_size=8)
