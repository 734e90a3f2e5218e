"""``gmcnn corpus``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gmcnn.data.corpus import build, summary, verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``gmcnn corpus build DIR [--cache DEBS]`` and ``gmcnn corpus verify DIR``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="download the packages and write the curated photos into DIR")
    b.add_argument("dir", type=Path, help="output folder (gets train/, val/, manifest.csv)")
    b.add_argument("--cache", type=Path, default=None, help="keep downloaded .deb files here and reuse them")
    v = sub.add_parser("verify", help="check a built corpus against the manifest")
    v.add_argument("dir", type=Path, help="a folder written by gmcnn corpus build")


def run(args: argparse.Namespace) -> int:
    """Run ``build`` or ``verify`` and print a summary."""
    if args.action == "build":
        entries = build(args.dir, cache=args.cache)
        print(f"built {len(entries)} photos into {args.dir}")
    else:
        entries = verify(args.dir)
        print(f"{args.dir}: all {len(entries)} photos match the manifest")
    print(summary(entries))
    return 0
