"""Plot training curves of one or more runs into one PNG: train hole loss, validation hole PSNR, SSIM, hole SWD.

Usage: python3 benchmarks/training_curves.py OUT.png RUN_DIR[=label] [RUN_DIR[=label] ...]   (or --smoke)

Validation points come from each run's ``metrics.jsonl`` and, when present, ``val_checkpoints.jsonl`` (written by
``benchmarks/validate_checkpoints.py``, the only source of hole SWD; a run that has that file is drawn from it
alone, since it may score more cases than the in-training validation). Classical fills scored on the same
validation cases (``val_baselines.json`` in the first run that has one) are drawn as dotted reference lines, and
the axes are clipped to a window around them (a diverged run leaves the plot instead of flattening it). All runs of
the ``cpu_small`` family share the validation cases (same images, seed, mask type and size), so their curves
compare.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PANELS = (
    ("hole", "train hole loss (L1 keys solid, L2 dashed)"),
    ("val_hole_psnr", "validation hole PSNR (dB)"),
    ("val_ssim", "validation SSIM (whole image)"),
    ("val_hole_swd", "validation hole SWD (pooled; lower = more realistic)"),
)
PADS = ((6.0, 1.0), (0.08, 0.01), (0.05, 0.3))  # plot window below / above the reference fills, per val panel


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    pts = sorted({r["step"]: r[key] for r in rows if key in r}.items())
    return [p[0] for p in pts], [p[1] for p in pts]


def smoke_runs(folder: Path) -> list[str]:
    """Two made-up runs with training and validation lines."""
    specs = []
    for name, slope in (("a", 1.0), ("b", 2.0)):
        run = folder / name
        run.mkdir(parents=True)
        lines = [{"step": s, "hole_l2": 0.1 / (slope * s)} for s in range(1, 11)]
        lines += [{"step": s, "val_hole_psnr": 20 + slope * s / 10, "val_ssim": 0.9} for s in (5, 10)]
        (run / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        specs.append(f"{run}={name}")
    return specs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, help="the PNG to write")
    ap.add_argument("runs", nargs="*", metavar="RUN_DIR[=label]")
    ap.add_argument("--smoke", action="store_true", help="plot two made-up runs into a temporary folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.out, args.runs = Path(tmp) / "curves.png", smoke_runs(Path(tmp))
        if args.out is None or not args.runs:
            ap.error("OUT.png and at least one RUN_DIR are required (or --smoke)")
        return plot(args.out, args.runs)


def plot(out: Path, runs: list[str]) -> int:
    fig, axes = plt.subplots(1, len(PANELS), figsize=(21, 4.5))
    baselines: dict[str, dict[str, float]] = {}
    for index, spec in enumerate(runs):
        path, _, label = spec.partition("=")
        run = Path(path)
        label = label or run.name
        rows = _rows(run / "metrics.jsonl")
        # validate_checkpoints.py may score more cases than the in-training validation: don't mix the two
        val_rows = _rows(run / "val_checkpoints.jsonl") or [r for r in rows if "val_hole_psnr" in r]
        if not baselines and (run / "val_baselines.json").exists():
            baselines = json.loads((run / "val_baselines.json").read_text())
        color = f"C{index % 10}"  # one colour per run, whether or not it has training-loss rows
        for key, style in (("hole_l1", "-"), ("hole_l2", "--")):
            steps, values = _series(rows, key)
            if steps:
                axes[0].plot(steps, values, style, color=color, label=f"{label} ({key})", lw=1)
        for ax, (key, _) in zip(axes[1:], PANELS[1:], strict=True):
            steps, values = _series(val_rows, key)
            if steps:
                ax.plot(steps, values, marker=".", color=color, label=label)
    # Diverged runs would squash the interesting range: clip to a window around the reference fills.
    axes[0].set_ylim(0, 0.5)
    for ax, (key, _), pad in zip(axes[1:], PANELS[1:], PADS, strict=True):
        refs = [scores[key] for scores in baselines.values() if key in scores]
        if refs:
            ax.set_ylim(min(refs) - pad[0], max(refs) + pad[1])
    for name, scores in baselines.items():
        for ax, (key, _) in zip(axes[1:], PANELS[1:], strict=True):
            if key in scores:
                ax.axhline(scores[key], ls=":", lw=1, color="gray")
                ax.annotate(name, (1.0, scores[key]), xycoords=("axes fraction", "data"), fontsize=7, color="gray",
                            ha="right", va="bottom")  # fmt: skip
    for ax, (_, title) in zip(axes, PANELS, strict=True):
        ax.set_title(title)
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
