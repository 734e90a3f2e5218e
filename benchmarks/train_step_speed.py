"""Images/s of one training step at 256x256 on this machine: stage 1 (reconstruction) and stage 2 (all terms).

Variants: generator width (cnum), float32 vs bfloat16 autocast, contiguous vs channels_last, and our
``generator_step``/``discriminator_step`` vs. a plain eager step written inline with the same losses.
Prints a markdown table; also the peak resident memory. Usage:

    python3 benchmarks/train_step_speed.py [--batch 4] [--repeats 3] [--size 256] [--cnum 16 32] [--stage2]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from gmcnn.data.datasets import Sample
from gmcnn.data.masks import build_mask
from gmcnn.losses.reconstruction import confidence_l1, confidence_weights, known_l1
from gmcnn.models.discriminator import Discriminator
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.training.config import TrainConfig
from gmcnn.training.steps import discriminator_step, generator_step


def make_batch(batch: int, size: int, *, channels_last: bool) -> Sample:
    rng = np.random.default_rng(0)
    gen = build_mask("mixed")
    masks, boxes = zip(*(gen(size, size, rng) for _ in range(batch)), strict=True)
    image = torch.rand(batch, 3, size, size) * 2 - 1
    mask = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None]
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return Sample(image.contiguous(memory_format=fmt), mask.contiguous(memory_format=fmt), torch.tensor(boxes))


def plain_stage1_step(g: GMCNN, opt: torch.optim.Optimizer, batch: Sample) -> None:
    """The same reconstruction losses, written inline (the official code's shape of a step)."""
    image, mask, _ = batch
    pred = g(image, mask)
    w = confidence_weights(mask)
    loss = 1.4 * confidence_l1(pred, image, mask, w) + 1.2 * known_l1(pred, image, mask)
    opt.zero_grad()
    loss.backward()
    opt.step()


def time_all(variants: list[tuple[str, object]], repeats: int) -> dict[str, tuple[float, float]]:
    """Round-robin timing (the machine is shared: interleaving spreads other load over all variants).

    Returns name -> (best wall seconds, best process-CPU seconds) per call; the best of the repeats is the one
    least disturbed by other processes.
    """
    for _, fn in variants:
        fn()  # warm-up (allocator, oneDNN primitive cache)
    wall: dict[str, list[float]] = {n: [] for n, _ in variants}
    cpu: dict[str, list[float]] = {n: [] for n, _ in variants}
    for _ in range(repeats):
        for name, fn in variants:
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)
    return {n: (min(wall[n]), min(cpu[n])) for n in wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cnum", type=int, nargs="+", default=[16, 32])
    ap.add_argument("--stage2", action="store_true", help="also time a finetune step (1 critic + 1 generator update)")
    ap.add_argument("--no-plain", action="store_true")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, {args.size}x{args.size}")
    variants = []
    for cnum in args.cnum:
        for bf16 in (False, True):
            for channels_last in (False, True):
                cfg = TrainConfig(image_size=args.size, cnum=cnum, bf16=bf16, channels_last=channels_last,
                                  mask_type="mixed", local_critic="patch", d_cnum=32, gan_loss="hinge",
                                  spectral_norm=True)  # fmt: skip
                fmt = torch.channels_last if channels_last else torch.contiguous_format
                torch.manual_seed(0)
                g = GMCNN(GMCNNConfig(cnum=cnum)).to(memory_format=fmt)
                opt = torch.optim.Adam(g.parameters(), lr=1e-4)
                batch = make_batch(args.batch, args.size, channels_last=channels_last)

                def ours(g=g, opt=opt, batch=batch, cfg=cfg) -> None:  # type: ignore[no-untyped-def]
                    loss, _ = generator_step(g, batch, cfg)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()

                rows = [("stage 1 ours", ours)]
                if not bf16 and not channels_last and not args.no_plain:
                    rows.append(("stage 1 plain eager", lambda g=g, opt=opt, batch=batch: plain_stage1_step(g, opt, batch)))
                if args.stage2:
                    d = Discriminator(image_size=args.size, width=cfg.d_cnum, local=cfg.local_critic,
                                      spectral_norm=True).to(memory_format=fmt)  # fmt: skip
                    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4)

                    def stage2(g=g, d=d, opt=opt, opt_d=opt_d, batch=batch, cfg=cfg) -> None:  # type: ignore[no-untyped-def]
                        loss, _ = discriminator_step(d, g, batch, cfg)
                        opt_d.zero_grad()
                        loss.backward()
                        opt_d.step()
                        loss, _ = generator_step(g, batch, cfg, critic=d)
                        opt.zero_grad()
                        loss.backward()
                        opt.step()

                    rows.append(("stage 2 ours (1 D + 1 G)", stage2))
                prec = "bf16 autocast" if bf16 else "fp32"
                layout = "channels_last" if channels_last else "contiguous"
                variants += [(f"| {name} | {cnum} | {prec} | {layout} |", fn) for name, fn in rows]
    print("| step | cnum | precision | layout | s/step (wall) | CPU s/step | images/s |")
    print("|---|---|---|---|---|---|---|")
    for name, (wall, cpu) in time_all(variants, args.repeats).items():
        print(f"{name} {wall:.2f} | {cpu:.2f} | {args.batch / wall:.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak resident memory of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
