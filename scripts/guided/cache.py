"""The guided-variant experiment (MODEL_CARD.md, runs G1/G2), step 1: cache crops with their texture-stage fill.

    python3 scripts/guided/cache.py OUT.npz N --corpus data/corpus_v2          # N training crops
    python3 scripts/guided/cache.py OUT.npz 48 --val-run runs/train/run_m      # that run's validation cases

Each entry is a 256² crop (uint8), its hole (bool) and ``base`` = the texture stage on the push-pull pre-fill,
LP(push-pull) + HP(PatchMatch) (uint8), i.e. the ``pushpull+texture`` method. PatchMatch costs ~0.7 s per crop,
too slow to run inside a training step here, hence the cache. Training crops come from the corpus cache (photos
plus ``texture_fraction`` 0.25 textures, mixed masks, seed 7); ``--val-run`` takes a run's own validation set
(its config's photos, size and seeded masks), so the numbers compare with that run's. Saved every 100 crops.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from gmcnn.data.datasets import CorpusDataset, CropDataset
from gmcnn.data.masks import build_mask
from gmcnn.inpainting.texture import synthesize
from gmcnn.models.fill import smooth_fill
from gmcnn.training.batches import make_datasets
from gmcnn.training.config import TrainConfig
from gmcnn.training.validation import to_uint8


def dataset(args: argparse.Namespace) -> CropDataset:
    if args.val_run:
        cfg = TrainConfig.from_dict(json.loads((Path(args.val_run) / "config.json").read_text()))
        _, val = make_datasets(cfg, 0)
        if val is None:
            raise SystemExit(f"{args.val_run} has no validation set")
        return val
    return CorpusDataset(args.corpus, texture_fraction=0.25, image_size=256, mask=build_mask("mixed"), seed=7,
                         crop_scale=(0.4, 1.0))  # fmt: skip


def save(out: Path, rows: dict[str, list[np.ndarray]]) -> None:
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, image=np.stack(rows["image"]), mask=np.stack(rows["mask"]), base=np.stack(rows["base"]))
    tmp.rename(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("--corpus", default="data/corpus_v2")
    ap.add_argument("--val-run", default="")
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = dataset(args)
    n = min(args.n, len(ds)) if args.val_run else args.n
    rows: dict[str, list[np.ndarray]] = {"image": [], "mask": [], "base": []}
    for i in tqdm(range(n), mininterval=30):
        image, mask, _ = ds[i]
        image, mask = image[None], mask[None]
        rgb, hole = to_uint8(image)[0], mask[0, 0].numpy() > 0.5
        base = synthesize(smooth_fill(image, mask), rgb, hole, seed=i)
        rows["image"].append(rgb)
        rows["mask"].append(hole)
        rows["base"].append(to_uint8(base)[0])
        if (i + 1) % 100 == 0:
            save(args.out, rows)
    save(args.out, rows)


if __name__ == "__main__":
    main()
