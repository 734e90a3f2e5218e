"""``gmcnn eval``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gmcnn.errors import UserError
from gmcnn.evaluation.baselines import baseline_names
from gmcnn.evaluation.evaluate import DEFAULT_METHODS, evaluate, load_methods, summary_markdown
from gmcnn.evaluation.protocol import PROTOCOLS, build_cases, is_case_set, load_cases
from gmcnn.files import atomic_write


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="folder of source photos, or a case set written earlier")
    parser.add_argument(
        "--protocol", choices=sorted(PROTOCOLS), help="case protocol (needed unless --data is a case set)"
    )
    parser.add_argument(
        "--methods",
        default=DEFAULT_METHODS,
        help=f"comma-separated: baselines {baseline_names()} and/or model names or paths (default: %(default)s)",
    )
    parser.add_argument("--out", required=True, help="output folder (results.csv, summary.md, contact sheets, fills)")
    parser.add_argument("--num", type=int, default=100, help="number of crops when building cases (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the case set (default 0)")
    parser.add_argument("--device", default="auto", help="device for models: auto, cpu, cuda (default auto)")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    given_cases = is_case_set(args.data)
    if not given_cases and not args.protocol:
        raise UserError(f"--protocol is needed to build cases from {args.data}; choose one of {sorted(PROTOCOLS)}")
    methods = load_methods(args.methods, device=args.device)  # before building cases: bad names fail fast
    if given_cases:
        cases = load_cases(args.data)
        if args.protocol and args.protocol != cases.protocol:
            raise UserError(f"{args.data} is a {cases.protocol!r} case set, not {args.protocol!r}")
    else:
        cases = build_cases(args.protocol, args.data, out / "cases", num=args.num, seed=args.seed)
    result = evaluate(cases, methods, out)
    text = summary_markdown(result.rows, cases, [m.label for m in methods], result)
    atomic_write(out / "summary.md", lambda tmp: tmp.write_text(text))
    print(text)
    return 0
