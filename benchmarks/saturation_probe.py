"""Why do GMCNN runs die? Train with the trainer's own pieces and record every step's insides.

Each step writes one JSON line: the losses, the lr, each layer group's gradient norm and Adam update (``EB1``,
``EB2``, ``EB3`` columns, ``fuse`` = ``decoding_layers.0``, ``out`` = ``decoding_layers.1``), the mean absolute
Adam step per weight in units of lr, and the fusion conv's pre-activations on the training batch (mean, std, min,
max, share below -3 where ELU is flat) with the bias of its channels. At the end it prints the steps around the
largest loss spike and every 10th step, as a table. Usage::

    python3 benchmarks/saturation_probe.py --data /work/data/corpus --out /work/runs/probe/lr1e-3.jsonl \\
        --preset cpu_live_mrf --set image_size=64 --set pad_mode=zeros --set cnum=16 --set lr=1e-3 --steps 150

``--set`` takes any training config key, as ``gmcnn train`` does (the health options included), so the same
command measures a fix. ``--report A.jsonl B.jsonl`` prints the tables of finished probes; ``--smoke`` runs 3 steps
of the ``tiny`` preset on random images.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

GROUPS = {"EB1": "EB1.", "EB2": "EB2.", "EB3": "EB3.", "fuse": "decoding_layers.0.", "out": "decoding_layers.1."}


def group_of(name: str) -> str:
    return next(g for g, prefix in GROUPS.items() if name.startswith(prefix))


def norms(tensors: dict[str, torch.Tensor]) -> dict[str, float]:
    """Per-group L2 norm of named tensors."""
    sq: dict[str, float] = {}
    for name, t in tensors.items():
        sq[group_of(name)] = sq.get(group_of(name), 0.0) + float(t.double().pow(2).sum())
    return {g: v**0.5 for g, v in sq.items()}


class FusionStats:
    """Forward hook on the fusion conv: statistics of its pre-activations on the last batch."""

    def __init__(self, generator: nn.Module) -> None:
        self.last: dict[str, float] = {}
        generator.decoding_layers[0].register_forward_hook(self._hook)  # type: ignore[index]

    def _hook(self, _m: nn.Module, inp: Any, out: torch.Tensor) -> None:
        x = out.detach().float()
        self.last = {
            "columns_absmax": float(inp[0].detach().abs().max()),  # the fusion's input: the three columns' maps
            "fuse_mean": float(x.mean()),
            "fuse_std": float(x.std()),
            "fuse_min": float(x.min()),
            "fuse_max": float(x.max()),
            "fuse_flat": float((x < -3).float().mean()),
        }


def probe(cfg: Any, steps: int, out: Path) -> list[dict[str, Any]]:
    from gmcnn.data.datasets import ResumableSampler
    from gmcnn.training import distributed
    from gmcnn.training.batches import BatchStream, make_datasets
    from gmcnn.training.build import prepare_models
    from gmcnn.training.health import GradClipper
    from gmcnn.training.train import lr_at, train_step

    info = distributed.DistInfo()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    train_set, _ = make_datasets(cfg, 0)
    sampler = ResumableSampler(train_set, num_replicas=1, rank=0, seed=cfg.seed)
    m, step, _ = prepare_models(cfg, info, state=None, init_from=None)
    batches = BatchStream(train_set, sampler, cfg, device=info.device, batches_seen=0)
    fusion = FusionStats(m.generator)
    clipper = GradClipper(cfg.grad_clip)
    rows = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for step in range(steps):
            stage = "pretrain" if step < cfg.pretrain_steps else "finetune"
            lr = lr_at(step, cfg)
            for group in m.opt_g.param_groups:
                group["lr"] = lr
            before = {k: p.detach().clone() for k, p in m.generator.named_parameters()}
            start = time.perf_counter()
            logs, failed = train_step(m, batches, cfg, info, stage=stage, clipper=clipper)
            params = dict(m.generator.named_parameters())
            grads = {k: p.grad for k, p in params.items() if p.grad is not None}
            delta = {k: params[k].detach() - before[k] for k in params}
            fuse_w = delta["decoding_layers.0.weight"]
            row = {
                "step": step + 1, "lr": lr, "seconds": time.perf_counter() - start, **logs, **fusion.last,
                **{f"grad_{g}": v for g, v in norms(grads).items()},
                **{f"update_{g}": v for g, v in norms(delta).items()},
                "fuse_step_per_lr": float(fuse_w.abs().mean()) / lr,
                "fuse_bias_mean": float(params["decoding_layers.0.bias"].detach().mean()),
                "grad_total": float(sum(v**2 for v in norms(grads).values()) ** 0.5),
            }  # fmt: skip
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            rows.append(row)
            if failed:
                break
    return rows


COLUMNS = ("step", "g_loss", "grad_norm", "grad_clipped", "grad_fuse", "update_fuse", "fuse_step_per_lr",
           "columns_absmax", "fuse_mean", "fuse_min", "fuse_flat")  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---:|" * len(COLUMNS)]
    for r in rows:
        cells = [str(r["step"])] + [f"{r.get(c, float('nan')):.4g}" for c in COLUMNS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(rows: list[dict[str, Any]]) -> str:
    losses = np.array([r["g_loss"] for r in rows])
    spike = int(np.argmax(losses[5:])) + 5 if len(rows) > 5 else int(np.argmax(losses))
    around = rows[max(0, spike - 3) : spike + 6]
    sampled = [r for r in rows if r["step"] % 10 == 0 or r is rows[-1]]
    return (
        f"largest loss at step {rows[spike]['step']} ({losses[spike]:.4g}, median {np.median(losses):.4g}):\n"
        f"{table(around)}\n\nevery 10th step:\n{table(sampled)}\n"
    )


def smoke_data(folder: Path) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="training data (a built corpus or an image folder)")
    ap.add_argument("--out", type=Path, help="JSONL to write, one line per step")
    ap.add_argument("--preset", default="cpu_live_mrf")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="training config override")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--smoke", action="store_true", help="3 steps of the tiny preset on random images")
    ap.add_argument("--report", type=Path, nargs="+", metavar="JSONL", help="print the tables of finished probes")
    args = ap.parse_args(argv)
    if args.report:
        for path in args.report:
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            for row in rows:  # probes written before the clipper measured the norm called it grad_total
                row.setdefault("grad_norm", row.get("grad_total", float("nan")))
            print(f"### {path.stem} ({len(rows)} steps)\n\n{report(rows)}")
        return 0
    from gmcnn.training.config import parse_overrides, resolve_config

    with tempfile.TemporaryDirectory() as tmp:
        overrides: dict[str, Any] = parse_overrides(args.set)
        if args.smoke:
            smoke_data(Path(tmp) / "data")
            args.data, args.preset, args.steps = str(Path(tmp) / "data"), "tiny", 3
            args.out = args.out or Path(tmp) / "probe.jsonl"
            overrides.update(idmrf_weight=0, val_fraction=0.3)
        if not args.data or not args.out:
            ap.error("--data and --out are required (or --smoke)")
        cfg = resolve_config(args.preset, {**overrides, "data": args.data})
        rows = probe(cfg, args.steps, args.out)
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
