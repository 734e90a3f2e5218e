"""Images/s and peak memory of one training step at 256x256 on this machine.

Each variant runs in its own process (so its peak resident memory is its own) and is timed best-of-N after a
warm-up. Variants: generator width (cnum), float32 vs bfloat16 autocast, contiguous vs channels_last, and
"plain": the stage-1 step written inline with the same losses, no autocast, no channels_last (the official code's
shape of a step). Stage 2 = one finetune step of the preset: ``d_steps`` critic updates + one generator update
(ID-MRF on random VGG19 weights when the preset uses it: same cost as the real weights). Prints a markdown table.

    python3 benchmarks/train_step_speed.py [--batch 2] [--repeats 3] [--cnum 16 32] [--stage 1 2]
        [--preset cpu_small|paper_256_rect] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from gmcnn.data.datasets import Sample
from gmcnn.data.masks import build_mask
from gmcnn.losses.reconstruction import confidence_l1, confidence_weights, known_l1
from gmcnn.models.discriminator import Discriminator
from gmcnn.models.vgg import VGG19Features
from gmcnn.training.build import create_generator
from gmcnn.training.config import resolve_config
from gmcnn.training.steps import discriminator_step, generator_step


def make_batch(batch: int, size: int, mask_type: str, *, channels_last: bool) -> Sample:
    rng = np.random.default_rng(0)
    gen = build_mask(mask_type)
    masks, boxes = zip(*(gen(size, size, rng) for _ in range(batch)), strict=True)
    image = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    mask = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return Sample(image.contiguous(memory_format=fmt), mask.contiguous(memory_format=fmt), torch.tensor(boxes))


def build_step(variant: dict) -> Callable[[], None]:  # type: ignore[type-arg]
    """One training step of ``variant`` as a closure (models and batch built once)."""
    plain = variant["precision"] == "plain"
    cfg = resolve_config(variant["preset"], {
        "cnum": variant["cnum"], "image_size": variant["size"], "bf16": variant["precision"] == "bf16",
        "channels_last": variant["layout"] == "channels_last",
    })  # fmt: skip
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    torch.manual_seed(0)
    g = create_generator(cfg).to(memory_format=fmt)  # type: ignore[call-overload]  # the preset's generator
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4)
    batch = make_batch(variant["batch"], cfg.image_size, cfg.mask_type, channels_last=cfg.channels_last)

    def g_update(**kwargs: object) -> None:
        if plain:  # the same reconstruction losses, inline
            image, mask, _ = batch
            pred = g(image, mask)
            w = confidence_weights(mask)
            loss = 1.4 * confidence_l1(pred, image, mask, w) + 1.2 * known_l1(pred, image, mask)
        else:
            loss, _ = generator_step(g, batch, cfg, **kwargs)  # type: ignore[arg-type]
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()

    if variant["stage"] == 1:
        return g_update
    d = Discriminator(image_size=cfg.image_size, width=cfg.d_cnum, local=cfg.local_critic,
                      spectral_norm=cfg.spectral_norm).to(memory_format=fmt)  # type: ignore[call-overload]  # fmt: skip
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4)
    vgg = VGG19Features() if cfg.idmrf_weight > 0 else None

    def finetune_step() -> None:
        for _ in range(cfg.d_steps):
            loss, _ = discriminator_step(d, g, batch, cfg)
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        g_update(critic=d, vgg=vgg)

    return finetune_step


def run_variant(variant: dict, repeats: int) -> dict:  # type: ignore[type-arg]
    step = build_step(variant)
    step()  # warm-up (allocator, oneDNN primitive cache)
    wall, cpu = [], []
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**variant, "wall": min(wall), "cpu": min(cpu), "peak_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cnum", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--stage", type=int, nargs="+", default=[1], choices=[1, 2])
    ap.add_argument("--preset", default="cpu_small", help="loss / critic settings (stage 2: paper_256_rect = paper)")
    ap.add_argument("--variants", nargs="+", default=["plain", "fp32", "fp32+cl", "bf16", "bf16+cl"])
    ap.add_argument("--smoke", action="store_true", help="one fp32 step of a cnum-4 network at 208x208")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.smoke:
        args.batch, args.size, args.repeats, args.cnum, args.variants = 1, 208, 1, [4], ["fp32"]
    if args.child:
        print(json.dumps(run_variant(json.loads(args.child), args.repeats)))
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{args.size}x{args.size}, preset {args.preset}, best of {args.repeats}\n")  # fmt: skip
    print("| stage | cnum | step | s/step (wall) | CPU s/step | images/s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for stage in args.stage:
        for cnum in args.cnum:
            for name in args.variants:
                if stage == 2 and name == "plain":
                    continue
                precision, _, layout = name.partition("+")
                variant = {"stage": stage, "cnum": cnum, "precision": precision, "size": args.size,
                           "layout": "channels_last" if layout == "cl" else "contiguous", "batch": args.batch,
                           "preset": args.preset}  # fmt: skip
                cmd = [sys.executable, __file__, "--child", json.dumps(variant), "--repeats", str(args.repeats)]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
                r = json.loads(out)
                label = "plain eager fp32" if precision == "plain" else f"ours {precision} {r['layout']}"
                print(f"| {stage} | {cnum} | {label} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                      f"{args.batch / r['wall']:.2f} | {r['peak_mib']:.0f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
