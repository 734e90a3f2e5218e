"""Quality benchmark: `gmcnn eval` on the model card's three protocols, summaries copied into benchmarks/results.

Runs ``paper-rect``, ``center`` and ``strokes`` (fixed seed) on a folder of held-out photos (by default the
corpus validation split built by ``gmcnn corpus build``). The full outputs (cases, every fill, per-case CSV)
go to ``--work`` (git-ignored ``runs/``); ``summary.md``, ``results.csv`` and the first contact sheet of each
protocol are copied to ``--out``, and ``--out/quality.md`` joins the three summaries. Usage::

    python3 benchmarks/quality.py [--data data/corpus/val] [--num 200] [--methods default,telea,ns,patchmatch]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from gmcnn.cli import main as gmcnn_main
from gmcnn.evaluation.evaluate import DEFAULT_METHODS

ROOT = Path(__file__).resolve().parent.parent
PROTOCOLS = ("paper-rect", "center", "strokes")
KEPT = ("summary.md", "results.csv", "pooled.csv", "contact_sheet_1.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT / "data" / "corpus" / "val"), help="held-out photos")
    ap.add_argument("--num", type=int, default=200, help="crops per protocol")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--work", default=str(ROOT / "runs" / "quality"), help="full outputs (large, not committed)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "quality"), help="committed summaries")
    args = ap.parse_args()
    work, out = Path(args.work), Path(args.out)
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
        joined += [summary, f"![contact sheet]({protocol}/contact_sheet_1.png)", ""]
    (out / "quality.md").write_text("\n".join(joined))
    print(f"summaries in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
