"""Plot training curves (hole / known L1, validation PSNR) of one or more runs' metrics.jsonl into one PNG.

Usage: python3 benchmarks/training_curves.py OUT.png RUN_DIR[=label] [RUN_DIR[=label] ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float]]:
    pts = [(r["step"], r[key]) for r in rows if key in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out, runs = Path(argv[0]), argv[1:]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for spec in runs:
        path, _, label = spec.partition("=")
        rows = [json.loads(line) for line in (Path(path) / "metrics.jsonl").read_text().splitlines() if line.strip()]
        for ax, key in zip(axes, ("hole_l1", "known_l1", "val_psnr"), strict=True):
            steps, values = _series(rows, key)
            if steps:
                ax.plot(steps, values, marker="." if key == "val_psnr" else None, label=label or path)
    for ax, title in zip(
        axes, ("hole L1 (train, [-1,1] units)", "known-region L1 (train)", "validation PSNR (dB)"), strict=True
    ):
        ax.set_title(title)
        ax.set_xlabel("generator step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
