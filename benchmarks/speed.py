"""Speed benchmark: `gmcnn bench` with its results written to benchmarks/results/speed (markdown, JSON).

Takes the flags of ``gmcnn bench`` (see ``--help``); ``--out`` defaults to ``benchmarks/results/speed`` and
``--plot`` to ``runs/speed/speed.png`` (pictures are not committed). Usage::

    python3 benchmarks/speed.py                 # default + full model, 256/512/1024/12 MP, training steps
    python3 benchmarks/speed.py --quick         # a smoke run in a couple of minutes
    python3 benchmarks/speed.py --smoke         # seconds: the default model at 64x64, one call each, temp folder
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from gmcnn.cli import bench

OUT = Path(__file__).resolve().parent / "results" / "speed"
PLOT = Path(__file__).resolve().parents[1] / "runs" / "speed" / "speed.png"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    bench.add_arguments(parser)
    parser.add_argument("--smoke", action="store_true", help="the smallest run, written to a temp folder")
    args = parser.parse_args()
    if args.smoke:
        args.models, args.baselines, args.sizes, args.no_train = "default", "telea", "64", True
        args.repeats, args.budget, args.batch = 1, 1.0, 1
        args.out = tempfile.mkdtemp(prefix="gmcnn-smoke-")
        args.plot = str(Path(args.out) / "speed.png")
    args.out, args.plot = args.out or str(OUT), args.plot or str(PLOT)
    return bench.run(args)


if __name__ == "__main__":
    sys.exit(main())
