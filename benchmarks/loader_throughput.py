"""Data loading vs training: crops/s the corpus loaders deliver against crops/s a training step consumes.

Loaders (batch 8, 256 x 256, the training masks): the corpus cache (:class:`gmcnn.data.datasets.CorpusDataset`,
memory-mapped pixels, photo/texture mix of the config's default) with 0, 1 and 2 worker processes, and for
comparison the file loader (:class:`gmcnn.data.datasets.ImageFileDataset`: decode the original JPEG/PNG per
crop) over the same corpus's ``train/`` photos. The cache is read once before timing
(warm page cache for every row). Step: one generator update of the ``cpu_small`` preset's model
(cnum 8, bf16, channels_last), stage 1 and stage 2 (critic + generator), best of N, as
``benchmarks/train_step_speed.py`` builds it. Loading keeps up when its crops/s exceed the step's. Prints a
markdown table and writes it to ``benchmarks/results/loader_throughput.md``.

    python3 benchmarks/loader_throughput.py [--corpus /work/data/corpus_v2] [--batches 20] [--workers 0 1 2]
    python3 benchmarks/loader_throughput.py --smoke   # a tiny random-pixel corpus, batch 1, temp folder
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from train_step_speed import build_step

from gmcnn.data.corpus_cache import ensure_cache
from gmcnn.data.datasets import CorpusDataset, CropDataset, ImageFileDataset, find_images
from gmcnn.data.masks import build_mask
from gmcnn.training.config import TrainConfig, resolve_config

RESULTS = Path(__file__).with_name("results") / "loader_throughput.md"
SIZE = 256  # crop side of the loaders and the training step


def loader_rate(dataset: CropDataset, *, batch: int, batches: int, workers: int) -> float:
    """Crops/s over ``batches`` batches after one warm-up batch (worker start-up excluded)."""
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers, sampler=range(batch * (batches + 1)),
                        generator=torch.Generator().manual_seed(0))  # fmt: skip
    it = iter(loader)
    next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batch * batches / (time.perf_counter() - start)


def smoke_corpus(folder: Path) -> Path:
    """A built-looking corpus of a few random-pixel photos and textures (the smoke run needs no real corpus);
    written by the tests' own helper, so the two never disagree on the corpus layout."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.corpus import write_corpus

    rng = np.random.default_rng(0)
    images = {f"{kind}{split}.png": (kind, split, rng.integers(0, 256, (SIZE + 8, SIZE + 16, 3), dtype=np.uint8))
              for kind in ("photo", "texture") for split in ("train", "val")}  # fmt: skip
    root = write_corpus(folder / "corpus", images)  # photos land in train/, where the file loader reads them
    ensure_cache(root, progress=False)
    return root


def step_rate(stage: int, *, batch: int, repeats: int) -> float:
    """Crops/s of the cpu_small preset's training step (best of ``repeats`` after a warm-up)."""
    cfg = resolve_config("cpu_small", {})
    step = build_step({"stage": stage, "cnum": cfg.cnum, "precision": "bf16" if cfg.bf16 else "fp32", "size": SIZE,
                       "layout": "channels_last" if cfg.channels_last else "contiguous", "batch": batch,
                       "preset": "cpu_small"})  # fmt: skip
    step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return batch / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("/work/data/corpus_v2"))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS, help="the markdown table (default: %(default)s)")
    ap.add_argument("--smoke", action="store_true", help="a tiny random-pixel corpus, batch 1, one of everything")
    args = ap.parse_args()
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
        args.corpus, args.out = smoke_corpus(tmp), tmp / RESULTS.name
        args.batch, args.batches, args.workers, args.repeats = 1, 1, [0], 1
    cfg = resolve_config("cpu_small", {})
    mask = build_mask(cfg.mask_type)
    common = {"image_size": SIZE, "mask": mask, "crop_scale": (cfg.crop_scale_min, 1.0)}
    fraction = TrainConfig().texture_fraction
    cached = CorpusDataset(args.corpus, texture_fraction=fraction, **common)
    files = ImageFileDataset(find_images(args.corpus / "train"), **common)
    # Read the cache once so every loader row measures a warm page cache (the first one would pay the disk).
    for item in cached.photos + cached.textures:
        cached.cache.pixels(item).sum()
    rows = []
    for workers in args.workers:
        rate = loader_rate(cached, batch=args.batch, batches=args.batches, workers=workers)
        rows.append((f"cache loader, {workers} worker(s), texture_fraction {fraction}", rate))
    for workers in args.workers[:2]:
        rate = loader_rate(files, batch=args.batch, batches=args.batches, workers=workers)
        rows.append((f"file loader (decode originals), {workers} worker(s), photos only", rate))
    for stage in (1, 2):
        rows.append((f"training step, cpu_small model, stage {stage}", step_rate(stage, batch=args.batch,
                                                                                 repeats=args.repeats)))  # fmt: skip
    load = os.getloadavg()[0]
    lines = [
        f"corpus {args.corpus} ({len(cached.photos)} train photos, {len(cached.textures)} train textures), "
        f"batch {args.batch}, {SIZE}x{SIZE}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end",
        "",
        "| what | crops/s |",
        "|---|---|",
        *(f"| {name} | {rate:.1f} |" for name, rate in rows),
        "",
        "0 workers = loading inside the training process, whose torch ops use all intra-op threads; DataLoader",
        "workers run with one thread each, which is most of the gap on a loaded machine.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(f"    python3 benchmarks/loader_throughput.py {' '.join(sys.argv[1:])}\n\n" + text)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
