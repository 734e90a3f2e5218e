"""``gmcnn corpus``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gmcnn.data.corpus import build, read_manifest, summary, verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``gmcnn corpus build DIR [--cache DEBS] [--no-training-cache]`` and ``gmcnn corpus verify DIR``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="download the packages and write the curated images into DIR")
    b.add_argument("dir", type=Path, help="output folder (gets train/, val/, textures/, cache/, manifest.csv)")
    b.add_argument("--cache", type=Path, default=None, help="keep downloaded .deb files here and reuse them")
    b.add_argument("--no-training-cache", action="store_true", help="skip the pre-decoded training cache")
    v = sub.add_parser("verify", help="check a built corpus against the manifest")
    v.add_argument("dir", type=Path, help="a folder written by gmcnn corpus build")


def run(args: argparse.Namespace) -> int:
    """Run ``build`` or ``verify`` and print what was downloaded and a summary."""
    if args.action == "build":
        report = build(args.dir, cache=args.cache, log=print)
        print(report.describe())
        entries = read_manifest(args.dir / "manifest.csv")
        print(f"built {len(entries)} images into {args.dir}")
        if not args.no_training_cache:
            from gmcnn.data.corpus_cache import ensure_cache  # local import: verify needs no numpy/PIL

            print(ensure_cache(args.dir).describe())
    else:
        entries = verify(args.dir)
        print(f"{args.dir}: all {len(entries)} images match the manifest")
    print(summary(entries))
    return 0
