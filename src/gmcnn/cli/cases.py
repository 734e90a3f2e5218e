"""``gmcnn cases``: write an evaluation case set (plain or stratified by scene kind) for ``gmcnn eval`` / ``study``."""

from __future__ import annotations

import argparse

from gmcnn.evaluation.protocol import PROTOCOLS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", action="append", required=True, metavar="DIR",
                        help="a folder of source photos (repeatable: corpus/val and corpus/textures/val)")  # fmt: skip
    parser.add_argument("--protocol", required=True, choices=sorted(PROTOCOLS), help="the masks (mixed: in turn)")
    parser.add_argument("--num", type=int, required=True, help="number of crops")
    parser.add_argument("--size", type=int, default=256, help="crop side in pixels (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every choice (default 0)")
    parser.add_argument("--stratify", choices=["kind"], help="draw the crops per scene kind in equal shares")
    parser.add_argument("--max-share", default="", metavar="KIND=SHARE,...",
                        help="with --stratify: cap kinds' shares, e.g. astro=0.25")  # fmt: skip
    parser.add_argument("--min-side", type=int, default=0, metavar="PX",
                        help="skip sources with a shorter side below PX (the crop size: no upscaling)")  # fmt: skip
    parser.add_argument("-o", "--out", required=True, help="the case set folder to write")


def run(args: argparse.Namespace) -> int:
    from gmcnn.evaluation.protocol import build_cases
    from gmcnn.evaluation.strata import parse_shares

    cases = build_cases(args.protocol, args.data, args.out, num=args.num, seed=args.seed, size=args.size,
                        stratify=args.stratify == "kind", max_share=parse_shares(args.max_share),
                        min_side=args.min_side)  # fmt: skip
    print(f"{len(cases.cases)} cases ({cases.protocol}, {cases.size}x{cases.size}, seed {cases.seed}) in {args.out}")
    types = list(cases.counts("mask_type"))
    print("| kind | cases | share | sources | " + " | ".join(types) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(types))
    for kind, n in sorted(cases.counts("kind").items()):
        mine = [c for c in cases.cases if c.kind == kind]
        by_type = [str(sum(c.mask_type == t for c in mine)) for t in types]
        sources = len({c.source for c in mine})
        print(f"| {kind} | {n} | {n / len(cases.cases):.0%} | {sources} | " + " | ".join(by_type) + " |")
    return 0
