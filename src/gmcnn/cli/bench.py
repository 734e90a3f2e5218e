"""`gmcnn bench`: latency, throughput, memory and training speed, each beside a reference measured in the same run.

The flags and the printed report; what is measured and how is :mod:`gmcnn.bench`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gmcnn.bench import (
    DEFAULT_MODELS,
    DEFAULT_SIZES,
    bench_header,
    load_models,
    parse_sizes,
    report_markdown,
    run_all,
    save_results,
)
from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import baseline_names, get_baseline


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", default=DEFAULT_MODELS, help="default, full, names or paths (default: %(default)s)")
    parser.add_argument(
        "--baselines",
        default=",".join(baseline_names()),
        help="classical fills to time beside the models, or 'none' (default: %(default)s)",
    )
    parser.add_argument("--sizes", help=f"fill sizes: N, WxH or Nmp (default {DEFAULT_SIZES}; --quick: 256)")
    parser.add_argument("--repeats", type=int, help="counted calls per measurement (default 5; --quick: 2)")
    parser.add_argument(
        "--budget", type=float, help="seconds per measurement before repeats stop (default 60; --quick: 10)"
    )
    parser.add_argument("--batch", type=int, help="batch for throughput and training (default 4; --quick: 1)")
    parser.add_argument("--quick", action="store_true", help="small defaults for a smoke run (see the other flags)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step measurements")
    parser.add_argument("--device", default="auto", help="device for models: auto, cpu, cuda (default auto)")
    parser.add_argument("--runtime", default="auto", help="Inpainter runtime (default auto)")
    parser.add_argument("--precision", default="auto", help="Inpainter precision (default auto)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the test image and hole (default 0)")
    parser.add_argument("--out", help="folder for speed.md, speed.json and speed.png")
    parser.add_argument("--plot", help="where the plot goes instead of OUT/speed.png")


def run(args: argparse.Namespace) -> int:
    sizes = parse_sizes(args.sizes or ("256" if args.quick else DEFAULT_SIZES))
    repeats = args.repeats or (2 if args.quick else 5)
    budget = args.budget or (10.0 if args.quick else 60.0)
    batch = args.batch or (1 if args.quick else 4)
    if repeats < 1 or budget <= 0 or batch < 1:
        raise UserError("--repeats and --batch must be >= 1 and --budget > 0")
    baselines = [] if args.baselines.strip() == "none" else [b.strip() for b in args.baselines.split(",") if b.strip()]
    for name in baselines:
        get_baseline(name)  # fail before the long measurements, with the list of known names
    models = load_models(args.models, device=args.device, runtime=args.runtime, precision=args.precision)

    def progress(text: str) -> None:
        print(f"[bench] {text}", flush=True)

    rows, device = run_all(
        models, baselines, sizes, repeats=repeats, budget=budget, batch=batch, seed=args.seed,
        train=not args.no_train, progress=progress,
    )  # fmt: skip
    text = report_markdown(rows, header=bench_header(device, repeats=repeats, budget=budget, seed=args.seed))
    print(text)
    if args.out:
        save_results(rows, text, Path(args.out), picture=Path(args.plot) if args.plot else None)
    return 0
