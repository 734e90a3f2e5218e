"""Is a run alive? Its validations as a table (step, wall time, loss, PSNR, fusion saturation) and a plot.

Reads ``RUN_DIR/metrics.jsonl`` as ``gmcnn train`` writes it: per validation the step, the hours since the run's
first line, the mean generator loss over the training lines since the previous validation, whole-image and hole
PSNR, ``val_fusion_saturated`` (the share of fusion pre-activations where the head is flat: no gradient),
``val_fusion_negative`` (the share below -3 whatever the head) and the raw generator's share on its training
batches; roll-backs appear as rows of their own. The verdict line says whether every validation stayed below
``--limit`` (0.5). Usage::

    python3 benchmarks/training_health.py /work/runs/alive [--out benchmarks/results/training/alive.md]
        [--plot /work/runs/alive/health.png] [--limit 0.5] [--prefill]

``--prefill`` also runs the run's export on its own validation cases and says how far its fills are from the
push-pull pre-fill: the mean and largest absolute difference in the hole (8-bit levels) and both hole PSNRs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The metrics lines in file order; a torn last line (a killed append) is skipped."""
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def health_rows(metrics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per validation (and per roll-back), in file order."""
    start = next((m["time"] for m in metrics if "time" in m), None)
    rows, losses = [], []
    for m in metrics:
        if "g_loss" in m:
            losses.append(m["g_loss"])
        hours = (m["time"] - start) / 3600 if start is not None and "time" in m else float("nan")
        if m.get("event") == "rollback":
            rows.append({"step": m["step"], "hours": hours, "event": f"rollback from {m['from_step']}",
                         "val_fusion_saturated": m["fusion_saturated"], "lr_scale": m["lr_scale"]})  # fmt: skip
        elif "val_psnr" in m:
            loss = sum(losses) / len(losses) if losses else float("nan")
            rows.append({"step": m["step"], "hours": hours, "g_loss": loss, **m})
            losses = []
    return rows


COLUMNS = [("step", "{:d}"), ("hours", "{:.2f}"), ("g_loss", "{:.4f}"), ("val_psnr", "{:.2f}"),
           ("val_hole_psnr", "{:.2f}"), ("val_fusion_saturated", "{:.3f}"), ("val_fusion_negative", "{:.3f}"),
           ("train_fusion_saturated", "{:.3f}"), ("event", "{}")]  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(c for c, _ in COLUMNS) + " |", "|" + "---:|" * len(COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[c]) if c in row else "" for c, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(rows: list[dict[str, Any]], limit: float) -> str:
    vals = [r for r in rows if "val_psnr" in r]
    if not vals:
        return "no validation yet"
    worst = max(vals, key=lambda r: r["val_fusion_saturated"])
    alive = worst["val_fusion_saturated"] < limit
    rollbacks = sum("event" in r for r in rows)
    return (
        f"{'ALIVE' if alive else 'NOT ALIVE'}: {len(vals)} validations over {vals[-1]['hours']:.2f} h up to step "
        f"{vals[-1]['step']}; highest val_fusion_saturated {worst['val_fusion_saturated']:.3f} (step {worst['step']}, "
        f"limit {limit}); highest val_fusion_negative {max(r.get('val_fusion_negative', 0) for r in vals):.3f}; "
        f"{rollbacks} roll-back(s)"
    )


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    vals = [r for r in rows if "val_psnr" in r]
    steps = [r["step"] for r in vals]
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    axes[0].plot(steps, [r["g_loss"] for r in vals], "o-")
    axes[0].set_ylabel("generator loss")
    axes[1].plot(steps, [r["val_hole_psnr"] for r in vals], "o-")
    axes[1].set_ylabel("val hole PSNR (dB)")
    for key in ("val_fusion_saturated", "val_fusion_negative", "train_fusion_saturated"):
        axes[2].plot(steps, [r.get(key, float("nan")) for r in vals], "o-", label=key)
    axes[2].axhline(0.5, color="k", lw=0.8, ls="--")
    axes[2].set_ylim(-0.02, 1.02)
    axes[2].set_ylabel("share")
    axes[2].set_xlabel("step")
    axes[2].legend(fontsize=7)
    for r in rows:
        if "event" in r:
            for ax in axes:
                ax.axvline(r["step"], color="r", lw=0.8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def prefill_distance(run_dir: Path) -> str:
    """How far the run's export moves the hole from its push-pull pre-fill, on the run's validation cases."""
    import numpy as np

    from gmcnn.data.datasets import Sample
    from gmcnn.models.fill import smooth_fill
    from gmcnn.training.batches import make_datasets, quiet_loader
    from gmcnn.training.config import TrainConfig
    from gmcnn.training.validation import case_scores, predict, to_uint8
    from gmcnn.weights.format import load_generator

    cfg = TrainConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    _, val_set = make_datasets(cfg, 0)
    if val_set is None:
        return "no validation images"
    generator, meta = load_generator(run_dir / "export")
    diffs, largest, net, pre = [], 0, [], []
    for batch in quiet_loader(val_set, batch_size=8):
        batch = Sample(*batch)
        _, inpainted = predict(generator, batch, cfg)
        prefill = smooth_fill(batch.image, batch.mask) * batch.mask + batch.image * (1 - batch.mask)
        holes = (batch.mask[:, 0] > 0.5).numpy()
        for out, base, ref, hole in zip(to_uint8(inpainted), to_uint8(prefill), to_uint8(batch.image), holes,
                                        strict=True):  # fmt: skip
            d = np.abs(out.astype(int) - base.astype(int))[hole]
            diffs.append(d.mean())
            largest = max(largest, int(d.max()))
            net.append(case_scores(out, ref, hole)["val_hole_psnr"])
            pre.append(case_scores(base, ref, hole)["val_hole_psnr"])
    return (
        f"export at step {meta['training'].get('steps')}, {len(diffs)} cases: |fill - pre-fill| in the hole mean "
        f"{np.mean(diffs):.2f} levels (max {largest}); hole PSNR {np.mean(net):.3f} dB against the pre-fill's "
        f"{np.mean(pre):.3f} dB"
    )


def smoke_run(folder: Path) -> Path:
    """A fake run: four validations and a roll-back, as ``gmcnn train`` writes them."""
    lines = []
    for step in range(1, 9):
        lines.append({"step": step, "g_loss": 0.1 / step, "time": 1000.0 + 60 * step})
        if step % 2 == 0:
            val = {"val_psnr": 20 + step, "val_ssim": 0.9, "val_hole_psnr": 15 + step,
                   "val_fusion_saturated": 0.1 * step, "val_fusion_negative": 0.1}  # fmt: skip
            lines.append({"step": step, **val, "time": 1000.0 + 60 * step})
    lines.append({"step": 4, "event": "rollback", "from_step": 6, "fusion_saturated": 0.6, "lr_scale": 0.5,
                  "time": 1500.0})  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"torn')
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", type=Path, help="a gmcnn train run directory")
    ap.add_argument("--out", type=Path, help="also write the table and verdict to this markdown file")
    ap.add_argument("--plot", type=Path, help="write a PNG of loss, hole PSNR and saturation against step")
    ap.add_argument("--limit", type=float, default=0.5, help="the saturation every validation must stay below")
    ap.add_argument("--prefill", action="store_true", help="compare the run's export with its push-pull pre-fill")
    ap.add_argument("--smoke", action="store_true", help="run on a small made-up metrics file")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.run_dir = smoke_run(Path(tmp) / "run")
            args.plot = args.plot or Path(tmp) / "health.png"
        if args.run_dir is None:
            ap.error("run_dir is required (or --smoke)")
        rows = health_rows(read_metrics(args.run_dir / "metrics.jsonl"))
        text = f"Health of `{args.run_dir}`\n\n{table(rows)}\n\n{verdict(rows, args.limit)}\n"
        if args.prefill:
            text += f"\n{prefill_distance(args.run_dir)}\n"
        print(text)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text)
        if args.plot:
            plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
