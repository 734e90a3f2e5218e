"""Speed benchmark: `gmcnn bench` with its results written to benchmarks/results/speed (markdown, JSON, plot).

Every flag is passed on to ``gmcnn bench`` (see ``gmcnn bench --help``); ``--out`` defaults to
``benchmarks/results/speed``. Usage::

    python3 benchmarks/speed.py                 # default + full model, 256/512/1024/12 MP, training steps
    python3 benchmarks/speed.py --quick         # a smoke run in a couple of minutes
"""

from __future__ import annotations

import sys
from pathlib import Path

from gmcnn.cli import main as gmcnn_main

OUT = Path(__file__).resolve().parent / "results" / "speed"

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", str(OUT)]
    sys.exit(gmcnn_main(["bench", *args]))
