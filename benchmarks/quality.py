"""Quality benchmark: `gmcnn eval` on the model card's three protocols, summaries copied into benchmarks/results.

Runs ``paper-rect``, ``center`` and ``strokes`` (fixed seed) on a folder of held-out photos (by default the
corpus validation split built by ``gmcnn corpus build``). The full outputs (cases, every fill, per-case CSV)
go to ``--work`` (git-ignored ``runs/``), the pictures too (contact sheets, ``frontier.png``); the text is
copied to ``--out`` (committed): ``summary.md``, ``results.csv`` and ``pooled.csv`` per protocol, and
``--out/quality.md`` joins the three summaries. ``--out/realism.md`` has one table for all protocols (hole PSNR,
SSIM, pooled hole SWD, gradient ratio per method) and the ablation (pre-fill / + network / the default, whose
completion stage is PatchMatch), and ``--work/frontier.png`` plots hole PSNR against hole SWD for every method,
one panel per protocol
(``scripts/docs_pictures.py`` copies the pictures the model card shows into docs/). ``--report`` rebuilds
those two from ``--work`` without filling again. Usage::

    python3 benchmarks/quality.py [--data data/corpus/val] [--num 200] [--methods default,default:detail=0,...]
    python3 benchmarks/quality.py --smoke   # 2 crops of 2 scikit-image photos, default + telea, temp folder
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from gmcnn.cli import main as gmcnn_main
from gmcnn.evaluation.evaluate import DEFAULT_METHODS

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ("paper-rect", "center", "strokes")
KEPT = ("summary.md", "results.csv", "pooled.csv")  # text only: pictures stay in --work
# (row title, method label): what each stage adds, on the same cases.
ABLATION = (
    ("pre-fill (push-pull)", "pushpull"),
    ("+ network (detail 0)", "default:detail=0"),
    ("+ completion stage (detail 1, the default)", "default"),
)


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def protocol_scores(folder: Path) -> dict[str, dict[str, float]]:
    """Per method: mean hole PSNR, SSIM and hole SSIM over the cases, pooled hole SWD and gradient ratio."""
    rows = _read(folder / "results.csv")
    pooled = {r["method"]: r for r in _read(folder / "pooled.csv") if r["bin"] == "all"}
    out = {}
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        out[method] = {
            **{k: float(np.mean([float(r[k]) for r in mine])) for k in ("psnr_hole", "ssim", "ssim_hole")},
            "swd_hole": float(pooled[method]["swd_hole"]),
            "grad_ratio_hole": float(pooled[method]["grad_ratio_hole"]),
            "n": float(len(mine)),
        }
    return out


def realism_markdown(scores: dict[str, dict[str, dict[str, float]]]) -> str:
    """One table per protocol (every method) and the ablation table."""
    lines = ["# Realism beside distortion", ""]
    for protocol, by_method in scores.items():
        n = int(next(iter(by_method.values()))["n"])
        lines += [f"## {protocol} ({n} cases)", "", "| method | hole PSNR | SSIM | hole SSIM | hole SWD | grad ratio |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for m, v in by_method.items():
            lines.append(f"| {m} | {v['psnr_hole']:.2f} | {v['ssim']:.4f} | {v['ssim_hole']:.4f} | "
                         f"{v['swd_hole']:.3f} | {v['grad_ratio_hole']:.2f} |")  # fmt: skip
        lines.append("")
    lines += ["## Ablation (hole PSNR / pooled hole SWD)", "", "| stage | " + " | ".join(scores) + " |",
              "|---|" + "---:|" * len(scores)]  # fmt: skip
    for title, method in ABLATION:
        cells = [f"{s[method]['psnr_hole']:.2f} / {s[method]['swd_hole']:.3f}" if method in s else "–"
                 for s in scores.values()]  # fmt: skip
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def frontier_plot(scores: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    """Hole PSNR against pooled hole SWD, every method, one panel per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(scores), figsize=(5 * len(scores), 4.2))
    for ax, (protocol, by_method) in zip(np.atleast_1d(axes), scores.items(), strict=True):
        xs = [v["swd_hole"] for v in by_method.values()]
        ys = [v["psnr_hole"] for v in by_method.values()]
        span_x, span_y = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
        placed: list[tuple[float, float]] = []
        for m, v in by_method.items():
            ours = m.startswith(("default", "pushpull"))
            x, y = v["swd_hole"], v["psnr_hole"]
            ax.scatter(x, y, marker="o" if ours else "s", s=40)
            # methods at (almost) the same point (default and pushpull with the texture stage): stack their labels
            near = sum(abs(x - px) < 0.04 * span_x and abs(y - py) < 0.04 * span_y for px, py in placed)
            placed.append((x, y))
            ax.annotate(m, (x, y), fontsize=8, xytext=(4, 3 - 10 * near), textcoords="offset points")
        ax.set_title(protocol)
        ax.set_xlabel("hole SWD (pooled; lower = more realistic)")
        ax.set_ylabel("hole PSNR (dB; higher = closer to the truth)")
        ax.grid(alpha=0.3)
    fig.suptitle("Perception-distortion frontier: best is top left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(work: Path, out: Path) -> None:
    """``out/realism.md`` and ``work/frontier.png`` from the protocols' results under ``work``."""
    scores = {p: protocol_scores(work / p) for p in PROTOCOLS if (work / p / "pooled.csv").is_file()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "realism.md").write_text(realism_markdown(scores))
    frontier_plot(scores, work / "frontier.png")
    print((out / "realism.md").read_text())


def smoke_photos(folder: Path) -> Path:
    """Two of scikit-image's bundled photos (evaluation and tests only, never training data)."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True)
    for name in ("astronaut", "coffee"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.png")
    return folder


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (what a reader can find), else as given."""
    return str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "data" / "corpus" / "val"), help="held-out photos")
    ap.add_argument("--num", type=int, default=200, help="crops per protocol")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--work", default=str(ROOT / "runs" / "quality"), help="full outputs (large, not committed)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "quality"), help="committed summaries")
    ap.add_argument("--report", action="store_true", help="only rebuild realism.md and frontier.png from --work")
    ap.add_argument("--smoke", action="store_true", help="2 crops of 2 test photos, default + telea, temp folders")
    args = ap.parse_args()
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
        args.data, args.num, args.methods = str(smoke_photos(tmp / "photos")), 2, "default,telea"
        args.work, args.out = str(tmp / "work"), str(tmp / "out")
    work, out = Path(args.work), Path(args.out)
    if args.report:
        report(work, out)
        return 0
    joined = ["# Quality benchmark", ""]
    for protocol in PROTOCOLS:
        folder = work / protocol
        code = gmcnn_main(["eval", "--data", args.data, "--protocol", protocol, "--methods", args.methods,
                           "--out", str(folder), "--num", str(args.num), "--seed", str(args.seed)])  # fmt: skip
        if code:
            return code
        (out / protocol).mkdir(parents=True, exist_ok=True)
        for name in KEPT:
            shutil.copy2(folder / name, out / protocol / name)
        summary = (folder / "summary.md").read_text().replace("# gmcnn eval:", "## Protocol", 1)
        sheets = f"{_shown(folder)}/contact_sheet_*.png"
        joined += [summary, f"Contact sheets: `{sheets}` (full size, not committed).", ""]
    (out / "quality.md").write_text("\n".join(joined))
    report(work, out)
    print(f"summaries in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
