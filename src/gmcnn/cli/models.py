"""``gmcnn models list | download NAME``: the models on offer, and the official releases fetched on request."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from gmcnn.weights.download import URL_ENV
from gmcnn.weights.install import MODELS_ENV, default_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="list|download", required=True)
    where = f"models folder (default: ${MODELS_ENV}, else ~/.cache/gmcnn/models; now {default_dir()})"
    listing = sub.add_parser("list", help="the embedded model, every official release and what the folder holds")
    listing.add_argument("--dir", type=Path, help=where)
    get = sub.add_parser(
        "download",
        help="download official releases from the authors' links, check them and put them in the folder",
        description="Download official releases from the authors' published links (Google Drive), check them "
        "(the archive's CRCs, the checkpoint's own checksums and sizes, sha256 where recorded) and put them in "
        "the models folder. An interrupted download resumes when run again.",
    )
    get.add_argument("names", nargs="+", metavar="NAME", help="release name (see `gmcnn models list`) or folder name")
    get.add_argument("--dir", type=Path, help=where)
    get.add_argument(
        "--url",
        metavar="TEMPLATE",
        help=f"download from this URL template instead, '{{id}}' standing for the Drive file id (e.g. a mirror; "
        f"default: ${URL_ENV}, else Google Drive)",
    )


def run(args: argparse.Namespace) -> int:
    folder = args.dir if args.dir is not None else default_dir()
    return _list(folder) if args.models_command == "list" else _download(args, folder)


def _list(folder: Path) -> int:
    from gmcnn.weights.catalog import catalog

    models = catalog(folder)
    print(f"models folder: {folder}{'' if folder.is_dir() else ' (does not exist yet)'}")
    rows = [(m.name, _status(m), _size(m.size), m.description) for m in models]
    widths = [max(len(r[i]) for r in [("NAME", "STATUS", "SIZE", ""), *rows]) for i in range(3)]
    for row in [("NAME", "STATUS", "SIZE", "DESCRIPTION"), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3])
    missing = [m.name for m in models if m.downloadable]
    if missing:
        print(
            f"get a release with: gmcnn models download {missing[0]}" + (f" --dir {folder}" if _custom(folder) else "")
        )
    return 0


def _download(args: argparse.Namespace, folder: Path) -> int:
    from tqdm import tqdm

    from gmcnn.weights.install import install, release

    entries = [release(name) for name in args.names]  # every name checked before anything downloads
    for entry in entries:
        bar: Any = None

        def progress(stage: str, done: int, total: int | None, name: str = entry.name) -> None:
            nonlocal bar
            if stage == "download":
                if bar is None:
                    bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, desc=name, file=sys.stderr)
                bar.update(done - bar.n)
            else:
                if bar is not None:
                    bar.close()
                print(f"{name}: checking the download", file=sys.stderr)

        try:
            done = install(entry, folder, url=args.url, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        if done.already:
            print(f"{entry.name}: already in {done.path}")
            continue
        also = [n for n in done.releases if n != entry.name]
        print(
            f"{entry.name}: downloaded {_size(done.size)}, checked, in {done.path}"
            + (f" (the same archive also held {', '.join(also)})" if also else "")
        )
        print(f"  use it: gmcnn inpaint photo.png --mask mask.png -o out.png --model {done.path}")
    return 0


def _status(model: Any) -> str:
    if model.kind == "embedded":
        return "embedded"
    if model.available:
        return "present"
    return "not downloaded" if model.kind == "release" else "missing"


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")


def _custom(folder: Path) -> bool:
    return folder.resolve() != default_dir().resolve()
