"""Curating the corpus manifest (``src/gmcnn/data/corpus_manifest.csv``): what was used to choose its rows.

The build (``gmcnn corpus build``) needs only the manifest; these helpers made its columns when packages were
looked at, and help when adding one:

* ``licence``: the licence a package's DEP-5 ``copyright`` file gives a file (the ``licence`` column);
* ``splits``: the deterministic train / validation split of new scenes (the ``split`` column; see
  ``docs/corpus/README.md``: per package, 15 % of photo scenes and 10 % of texture scenes, the first corpus's
  66 rows kept theirs);
* ``crop``: the largest fully opaque rectangle of a photo cut-out (the ``crop`` column, e.g. Tux Paint stamps).

Usage::

    python3 scripts/curate_corpus.py licence PACKAGE /usr/share/doc/PACKAGE/copyright PATH [--member M]
    python3 scripts/curate_corpus.py splits SCENE ... [--val-fraction 0.15]   # one package's new scenes
    python3 scripts/curate_corpus.py crop CUTOUT.png       # x,y,w,h
    python3 scripts/curate_corpus.py --smoke               # each on a small built-in example
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gmcnn.errors import UserError

# Where each package installs its images -> where they live in the upstream source tree, so the
# DEP-5 ``Files:`` patterns of the copyright file (written against the source tree) can be matched.
# A file inside an archive is named ``ARCHIVE!MEMBER``.
SOURCE_PREFIXES: dict[str, tuple[tuple[str, str], ...]] = {
    "opencv-doc": (
        ("usr/share/doc/opencv-doc/examples/", "samples/"),
        ("usr/share/doc/opencv-doc/opencv4/html/", "doc/"),
    ),
    "mate-backgrounds": (("usr/share/backgrounds/mate/", ""),),
    "plasma-workspace-wallpapers": (("usr/share/wallpapers/", ""),),
    "gnome-backgrounds": (("usr/share/backgrounds/gnome/", ""),),
    "ukui-wallpapers": (("usr/share/backgrounds/", ""),),
    "lomiri-wallpapers-20.04": (("usr/share/backgrounds/", "20.04/"),),
    "lomiri-wallpapers-16.04": (("usr/share/backgrounds/", "16.04/"),),
    "ufoai-textures": (("usr/share/games/ufoai/base/0textures.pk3!", "base/"),),
    "extremetuxracer-data": (("usr/share/games/etr/", "data/"),),
}
# Packages whose copyright file is free-form rather than DEP-5: the licence it states for the package's data.
FREE_FORM_LICENCES = {"digikam-data": "GPL-2+"}  # "almost all software is GPL ... version 2 ... or any later"


def assign_splits(scenes: Iterable[str], *, val_fraction: float = 0.12) -> dict[str, str]:
    """Deterministic split by scene: the scenes whose sha256(name) sorts first go to validation.

    Hashing the name (rather than drawing random numbers) keeps a scene's split stable when other scenes
    are added or removed, apart from the boundary.
    """
    ordered = sorted(set(scenes), key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    n_val = max(1, round(val_fraction * len(ordered)))
    return {g: ("val" if i < n_val else "train") for i, g in enumerate(ordered)}


def copyright_licence(copyright_text: str, package: str, path: str) -> str:
    """The licence a DEP-5 copyright file gives to an installed file (the last matching stanza wins).

    Args:
        copyright_text: contents of ``/usr/share/doc/<package>/copyright``.
        package: the package name, which selects the installed-path -> source-path mapping.
        path: installed path inside the package.

    Raises:
        UserError: the file is not machine-readable (no ``Files:`` stanza matches).
    """
    source = path
    for installed, upstream in SOURCE_PREFIXES.get(package, ()):
        if path.startswith(installed):
            source = upstream + path[len(installed) :]
            break
    licence = None
    for patterns, stanza_licence in _dep5_file_stanzas(copyright_text):
        if any(fnmatch.fnmatchcase(source, p) for p in patterns):
            licence = stanza_licence
    if licence is None:
        raise UserError(f"{package}: no Files: stanza of its copyright file covers {path}")
    return licence


def _dep5_file_stanzas(text: str) -> list[tuple[list[str], str]]:
    """``(patterns, licence short name)`` for each ``Files:`` stanza, in file order."""
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields_: dict[str, list[str]] = {}
        key = None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields_[key].append(line.strip())
            elif ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                key = key.strip().lower()
                fields_[key] = [value.strip()]
        if "files" in fields_ and "license" in fields_:
            patterns = " ".join(fields_["files"]).split()
            stanzas.append((patterns, fields_["license"][0]))
    return stanzas


def licence_for(copyright_text: str, package: str, path: str, member: str = "") -> str:
    """The licence of a manifest row's source: :func:`copyright_licence` of ``path`` (``path!member`` for a
    file inside an archive), or the stated licence of a package whose copyright file is free-form."""
    if package in FREE_FORM_LICENCES:
        return FREE_FORM_LICENCES[package]
    return copyright_licence(copyright_text, package, f"{path}!{member}" if member else path)


def largest_opaque_rect(alpha: np.ndarray, *, square_bias: float = 4.0) -> tuple[int, int, int, int]:
    """The best all-opaque axis-aligned rectangle ``(x, y, w, h)`` of an alpha channel.

    "Best" maximises ``square_bias * min(w, h) ** 2 + w * h``: the area, with a bonus for the short side,
    because a 3000 x 20 sliver is useless for square training crops. The search is the classic histogram
    stack over rows (O(H*W)).

    Args:
        alpha: ``(H, W)`` alpha values; only 255 counts as opaque.
        square_bias: weight of the squared short side against the area.

    Returns:
        ``(x, y, w, h)``; ``(0, 0, 0, 0)`` when no pixel is opaque.
    """
    ok = np.asarray(alpha) == 255
    height, width = ok.shape
    heights = np.zeros(width, dtype=np.int64)
    best_score, best = 0.0, (0, 0, 0, 0)
    for y in range(height):
        heights = np.where(ok[y], heights + 1, 0)
        stack: list[tuple[int, int]] = []  # (start column, height), heights increasing
        for x, h in enumerate([*heights.tolist(), 0]):
            start = x
            while stack and stack[-1][1] >= h:
                s, hs = stack.pop()
                w = x - s
                score = square_bias * min(w, hs) ** 2 + w * hs
                if hs and score > best_score:
                    best_score, best = score, (s, y - hs + 1, w, hs)
                start = s
            stack.append((start, h))
    return best


SMOKE_COPYRIGHT = "Format: x\n\nFiles: *\nLicense: GPL-2+\n\nFiles: 20.04/a.jpg\nLicense: CC-BY-SA-3.0\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="run each helper on a small built-in example")
    sub = ap.add_subparsers(dest="command")
    one = sub.add_parser("licence", help="the licence a copyright file gives to an installed file")
    one.add_argument("package")
    one.add_argument("copyright", type=Path, help="/usr/share/doc/PACKAGE/copyright")
    one.add_argument("path", help="installed path inside the package (no leading /)")
    one.add_argument("--member", default="", help="the file's path inside an archive at PATH")
    splits = sub.add_parser("splits", help="the split of each of one package's new scenes")
    splits.add_argument("scenes", nargs="+")
    splits.add_argument("--val-fraction", type=float, default=0.12, help="share going to validation (%(default)s)")
    crop = sub.add_parser("crop", help="the largest fully opaque rectangle of a cut-out, x,y,w,h")
    crop.add_argument("image", type=Path)
    args = ap.parse_args(argv)
    if args.smoke:
        print(licence_for(SMOKE_COPYRIGHT, "lomiri-wallpapers-20.04", "usr/share/backgrounds/a.jpg"))
        print(assign_splits(f"scene{i}" for i in range(10)))
        alpha = np.zeros((40, 60), np.uint8)
        alpha[5:30, 10:50] = 255
        print(largest_opaque_rect(alpha))
        return 0
    try:
        if args.command == "licence":
            print(licence_for(args.copyright.read_text(), args.package, args.path, args.member))
        elif args.command == "splits":
            for scene, split in assign_splits(args.scenes, val_fraction=args.val_fraction).items():
                print(f"{scene}: {split}")
        elif args.command == "crop":
            from PIL import Image

            print(",".join(str(v) for v in largest_opaque_rect(np.asarray(Image.open(args.image).getchannel("A")))))
        else:
            ap.error("choose licence, splits or crop (or --smoke)")
    except UserError as exc:
        print(f"curate_corpus: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
