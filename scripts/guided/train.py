"""The guided-variant experiment (MODEL_CARD.md, runs G1/G2), step 2: train a correction of the texture stage.

    python3 scripts/guided/train.py RUN_DIR --train train.npz --val val.npz [--mrf 0.002] [--steps N]

The cnum-8 ``fill="smooth"`` GMCNN with the scaled init, run through :meth:`GMCNN.correct` on the cached
``base`` (LP(push-pull) + HP(PatchMatch), from ``cache.py``): it starts exactly at the texture stage (zero output
conv) and learns ``base`` + correction. Loss as run M: 1.4 x hole L2 + ``--mrf`` x patch ID-MRF; Adam 1e-4
(0.5, 0.999), batch 8, bf16 autocast, EMA 0.99. Every 100 steps the EMA is scored on the validation cache (hole
PSNR, SSIM, pooled hole SWD, gradient ratio) into ``RUN_DIR/metrics.jsonl``; step 0 also scores ``base`` alone.
Resumes from ``RUN_DIR/last.pt``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gmcnn.evaluation.realism import RealismPool
from gmcnn.losses.patch_mrf import patch_mrf_loss
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.init import scaled_init_
from gmcnn.training.validation import case_scores, to_uint8

Arrays = dict[str, np.ndarray]


def tensors(d: Arrays, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Crops, holes and bases ``idx`` as (B, 3, H, W) / (B, 1, H, W) / (B, 3, H, W) tensors in [-1, 1]."""
    image = torch.from_numpy(d["image"][idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
    base = torch.from_numpy(d["base"][idx]).permute(0, 3, 1, 2).float() / 127.5 - 1
    return image, torch.from_numpy(d["mask"][idx])[:, None].float(), base


@torch.no_grad()
def validate(net: GMCNN | None, val: Arrays) -> dict[str, float]:
    """The EMA's composites (``base`` alone when ``net`` is None) against the truth, as run M validates."""
    cases: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(val["image"]), 8):
        image, mask, base = tensors(val, np.arange(start, min(start + 8, len(val["image"]))))
        pred = base if net is None else net.correct(base, mask)
        comp = pred * mask + image * (1 - mask)
        cases += zip(to_uint8(comp), to_uint8(image), mask[:, 0].numpy() > 0.5, strict=True)
    scores = [case_scores(*case) for case in cases]
    pool = RealismPool()
    for case in cases:
        pool.add(*case)
    return {"val_hole_psnr": float(np.mean([s["val_hole_psnr"] for s in scores])),
            "val_ssim": float(np.mean([s["val_ssim"] for s in scores])),
            "val_hole_swd": pool.swd(), "val_grad_ratio": pool.grad_ratio()}  # fmt: skip


def step_loss(net: GMCNN, batch: tuple[torch.Tensor, ...], mrf_weight: float) -> tuple[torch.Tensor, dict[str, Any]]:
    image, mask, base = batch
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pred = net.correct(base.contiguous(memory_format=torch.channels_last), mask).float()
    hole = ((pred - image) ** 2 * mask).sum() / (mask.sum() * 3).clamp_min(1)
    loss, logs = 1.4 * hole, {"hole_l2": hole.item()}
    if mrf_weight:
        mrf = patch_mrf_loss(pred * mask + image * (1 - mask), image, mask, max_locations=512)
        loss, logs["patch_mrf"] = loss + mrf_weight * mrf, mrf.item()
    return loss, logs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--mrf", type=float, default=0.002)
    ap.add_argument("--steps", type=int, default=100_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    args.run.mkdir(parents=True, exist_ok=True)
    train, val = dict(np.load(args.train)), dict(np.load(args.val))
    log = (args.run / "metrics.jsonl").open("a")
    net = GMCNN(GMCNNConfig(cnum=8, fill="smooth"))
    scaled_init_(net)
    net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.5, 0.999))
    ema, step = copy.deepcopy(net), 0
    if (args.run / "last.pt").exists():
        state = torch.load(args.run / "last.pt", weights_only=True)
        net.load_state_dict(state["net"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
    else:
        log.write(json.dumps({"step": 0, "what": "base (pushpull+texture)", **validate(None, val)}) + "\n")
    rng, t0 = np.random.default_rng(step), time.time()
    while step < args.steps:
        loss, logs = step_loss(net, tensors(train, rng.integers(len(train["image"]), size=8)), args.mrf)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        with torch.no_grad():
            for averaged, live in zip(ema.parameters(), net.parameters(), strict=True):
                averaged.lerp_(live, 0.01)
        if step % 10 == 0:
            log.write(json.dumps({"step": step, **logs, "s_per_step": (time.time() - t0) / 10}) + "\n")
            log.flush()
            t0 = time.time()
        if step % 50 == 0:
            state = {"net": net.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step}
            torch.save(state, args.run / "last.tmp")
            (args.run / "last.tmp").rename(args.run / "last.pt")
        if step % 100 == 0:
            log.write(json.dumps({"step": step, **validate(ema, val)}) + "\n")
            log.flush()


if __name__ == "__main__":
    main()
