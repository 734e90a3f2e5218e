"""Evaluation case sets: deterministic (image, mask) pairs from a folder of photos and a seed, written once.

A *case set* is a folder that any tool can read without gmcnn::

    manifest.json     {"format": "gmcnn-eval-cases", "version": 1, "protocol", "seed", "size", "num",
                       "source", "cases": [{"id", "image", "mask", "source", "scale", "crop", "bin", "coverage"}]}
    manifest.csv      the same per-case fields, one row per case
    images/NNNN.png   the ground-truth crop, RGB, size x size
    masks/ID.png      the hole, 8-bit grey, 255 = hole

Protocols (all at ``size`` = 256 by default):

* ``paper-rect`` — one 128x128 hole (half the side) at a uniformly random place: the GMCNN paper's protocol.
* ``center`` — the 128x128 hole in the middle.
* ``strokes`` — free-form brush strokes (:class:`gmcnn.data.masks.StrokeMask` with 2-5 parts), redrawn until the
  hole covers 15-40 % of the image.
* ``coverage`` — irregular masks (:class:`gmcnn.data.masks.IrregularMask`) in the bins 1-10 %, 10-20 %, ...,
  50-60 % (the partial-convolutions benchmark); every crop is used once per bin, so bins compare the same
  images. Within a bin the target coverage is drawn uniformly.

Crops: source images (found recursively, sorted by path) are visited in a seeded random order, cycling when
``num`` exceeds their count. Each is resized (Lanczos) so its shorter side is ``size * u`` with ``u`` uniform in
``[1, min(2, shorter side / size)]`` — photos are seen at a random scale up to 2x the crop, never upscaled
unless smaller than the crop — and a ``size`` x ``size`` crop is taken at a random place. Case ``i`` draws from
``np.random.default_rng([seed, i])``, so asking for more cases keeps the first ones unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image

from gmcnn.data import datasets
from gmcnn.data.masks import DEFAULT_COVERAGE_BINS, IrregularMask, RectMask, StrokeMask
from gmcnn.errors import UserError
from gmcnn.files import atomic_write
from gmcnn.io import IMAGE_EXTENSIONS, load_image

CASES_FORMAT: Final = "gmcnn-eval-cases"
CASES_VERSION: Final = 1
MANIFEST_JSON: Final = "manifest.json"
MANIFEST_CSV: Final = "manifest.csv"
STROKE_COVERAGE: Final = (0.15, 0.40)
_MAX_REDRAWS: Final = 1000

# One protocol = a function (size, rng) -> [(bin label, hole mask bool (size, size))], one entry per case.
ProtocolMasks = Callable[[int, np.random.Generator], list[tuple[str, np.ndarray]]]


def _paper_rect(size: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    mask, _ = RectMask(box_fraction=0.5, max_shrink=0)(size, size, rng)
    return [("all", mask)]


def _center(size: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    mask = np.zeros((size, size), dtype=bool)
    side = size // 2
    top = (size - side) // 2
    mask[top : top + side, top : top + side] = True
    return [("all", mask)]


def _strokes(size: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    low, high = STROKE_COVERAGE
    # 2-5 parts put ~70 % of the official-style stroke masks inside 15-40 %; the rest are redrawn.
    draw = StrokeMask(parts=(2, 5))
    for _ in range(_MAX_REDRAWS):
        mask, _ = draw(size, size, rng)
        if low <= mask.mean() <= high:
            return [("all", mask)]
    raise RuntimeError(f"no stroke mask with {low:.0%}-{high:.0%} coverage in {_MAX_REDRAWS} draws at {size}px")


def coverage_label(low: float, high: float) -> str:
    """Bin label used in manifests and tables, e.g. ``"10-20%"``."""
    return f"{round(low * 100)}-{round(high * 100)}%"


def _coverage(size: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    out = []
    for low, high in DEFAULT_COVERAGE_BINS:
        # IrregularMask stops drawing as soon as it reaches a bin's lower end; drawing that lower end uniformly
        # spreads the masks over the whole bin instead of piling them up at its bottom.
        target = float(rng.uniform(low, high))
        for _ in range(_MAX_REDRAWS):
            mask, _ = IrregularMask(bins=((target, high),))(size, size, rng)
            if low <= mask.mean() <= high:
                break
        else:
            raise RuntimeError(f"no irregular mask in {coverage_label(low, high)} in {_MAX_REDRAWS} draws")
        out.append((coverage_label(low, high), mask))
    return out


# The mask type of every case of a single-type protocol (manifests before the "mask_type" field name it by protocol).
MASK_TYPES: Final = {"paper-rect": "rect", "center": "center", "strokes": "strokes", "coverage": "irregular"}
# Name -> case generator; `gmcnn eval --protocol` chooses from these.
PROTOCOLS: dict[str, ProtocolMasks] = {
    "paper-rect": _paper_rect,
    "center": _center,
    "strokes": _strokes,
    "coverage": _coverage,
}


@dataclass(frozen=True)
class Case:
    """One evaluation case of a case set (paths are absolute)."""

    id: str
    image_path: Path
    mask_path: Path
    bin: str
    coverage: float
    source: str
    mask_type: str = ""  # "rect", "center", "strokes", "irregular"
    kind: str = ""  # the source's scene kind (gmcnn.data.scene_kinds), "" when unknown

    def image(self) -> np.ndarray:
        """Ground truth, uint8 ``(size, size, 3)`` RGB."""
        with Image.open(self.image_path) as img:
            return np.asarray(img.convert("RGB"))

    def mask(self) -> np.ndarray:
        """Hole, bool ``(size, size)``, True = hole."""
        with Image.open(self.mask_path) as img:
            return np.asarray(img.convert("L")) > 127


@dataclass(frozen=True)
class CaseSet:
    """A loaded case set: its parameters and cases, in manifest order."""

    root: Path
    protocol: str
    seed: int
    size: int
    num: int
    source: str
    cases: list[Case]

    @property
    def bins(self) -> list[str]:
        """Bin labels in first-seen order (``["all"]`` except for ``coverage``)."""
        return list(dict.fromkeys(c.bin for c in self.cases))


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Readable image files under ``folder`` (recursive, sorted, hidden ones skipped); a ``UserError`` if none."""
    found = [p for p in datasets.list_images(folder) if p.suffix.lower() in IMAGE_EXTENSIONS]
    if not found:
        raise UserError(f"{folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return found


def random_crop(image: Image.Image, size: int, rng: np.random.Generator) -> tuple[np.ndarray, float, list[int]]:
    """Resize to a random scale and crop ``size`` x ``size`` (see module docstring).

    Returns:
        (uint8 RGB crop, resize factor applied to the source, [top, left, size, size] in the resized image).
    """
    image = image.convert("RGB")
    w, h = image.size
    short = min(w, h)
    upper = max(1.0, min(2.0, short / size))
    factor = size * float(rng.uniform(1.0, upper)) / short
    nw, nh = max(size, round(w * factor)), max(size, round(h * factor))
    resized = image.resize((nw, nh), Image.Resampling.LANCZOS) if (nw, nh) != (w, h) else image
    top = int(rng.integers(0, nh - size + 1))
    left = int(rng.integers(0, nw - size + 1))
    crop = np.asarray(resized.crop((left, top, left + size, top + size)))
    return crop, factor, [top, left, size, size]


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as PNG, atomically."""
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def build_cases(
    protocol: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    num: int,
    seed: int = 0,
    size: int = 256,
) -> CaseSet:
    """Write the case set of ``protocol`` into ``out`` (or reuse the one already there) and load it.

    Args:
        protocol: a name in :data:`PROTOCOLS`.
        data: folder of source photos (searched recursively).
        out: folder for the case set; created if needed.
        num: number of crops (cases, except for ``coverage``: one case per crop and bin).
        seed: fixes every random choice.
        size: crop side in pixels.

    Raises:
        UserError: unknown protocol, bad numbers, or ``out`` holding a case set with other parameters.
    """
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    if num < 1 or size < 16:
        raise UserError(f"need num >= 1 and size >= 16, got num={num}, size={size}")
    out = Path(out)
    params = {"protocol": protocol, "seed": int(seed), "size": int(size), "num": int(num)}
    if (out / MANIFEST_JSON).is_file():
        existing = load_cases(out)
        have = {"protocol": existing.protocol, "seed": existing.seed, "size": existing.size, "num": existing.num}
        if have != params:
            raise UserError(
                f"{out} already holds a case set with {have}, not {params}: use another folder or remove it"
            )
        return existing

    sources = list_images(data)
    order = np.random.default_rng(seed).permutation(len(sources))
    masks_fn = PROTOCOLS[protocol]
    entries: list[dict[str, Any]] = []
    for i in range(num):
        rng = np.random.default_rng([seed, i])
        src = sources[int(order[i % len(sources)])]
        crop, factor, box = random_crop(load_image(src), size, rng)
        image_rel = f"images/{i:04d}.png"
        write_png(out / image_rel, crop)
        cases = masks_fn(size, rng)
        for j, (bin_label, mask) in enumerate(cases):
            case_id = f"{i:04d}" if len(cases) == 1 else f"{i:04d}-{j}"
            mask_rel = f"masks/{case_id}.png"
            write_png(out / mask_rel, mask.astype(np.uint8) * 255)
            entries.append(
                {
                    "id": case_id,
                    "image": image_rel,
                    "mask": mask_rel,
                    "source": src.relative_to(Path(data)).as_posix(),
                    "scale": round(factor, 6),
                    "crop": box,
                    "bin": bin_label,
                    "mask_type": MASK_TYPES[protocol],
                    "coverage": round(float(mask.mean()), 6),
                }
            )
    manifest = {"format": CASES_FORMAT, "version": CASES_VERSION, **params, "source": str(Path(data)), "cases": entries}
    _write_csv(out / MANIFEST_CSV, entries)
    # The JSON goes last: a folder without it is an unfinished build and is simply rebuilt.
    text = json.dumps(manifest, indent=1) + "\n"
    atomic_write(out / MANIFEST_JSON, lambda tmp: tmp.write_text(text))
    return load_cases(out)


def _write_csv(path: Path, entries: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    fields = ["id", "image", "mask", "source", "scale", "crop", "bin", "mask_type", "coverage"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow({**e, "crop": " ".join(str(v) for v in e["crop"])})
    text = buf.getvalue()
    atomic_write(path, lambda tmp: tmp.write_text(text))


def is_case_set(folder: str | os.PathLike[str]) -> bool:
    """True when ``folder`` holds a case set manifest."""
    return (Path(folder) / MANIFEST_JSON).is_file()


def read_format_json(path: Path, fmt: str, version: int, what: str) -> dict[str, Any]:
    """A JSON file that names its ``format`` and ``version`` (case sets, study keys); a ``UserError`` if not."""
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt or meta.get("version") != version:
        raise UserError(f"{path} is not {what} (format {fmt!r}, version {version})")
    return meta


def load_cases(folder: str | os.PathLike[str]) -> CaseSet:
    """Read a case set written by :func:`build_cases`; a ``UserError`` if the manifest is not one."""
    root = Path(folder)
    path = root / MANIFEST_JSON
    if not path.is_file():
        raise FileNotFoundError(f"no case set at {root}: {MANIFEST_JSON} is missing")
    meta = read_format_json(path, CASES_FORMAT, CASES_VERSION, "a gmcnn case set")
    cases = [
        Case(
            id=str(c["id"]),
            image_path=root / c["image"],
            mask_path=root / c["mask"],
            bin=str(c["bin"]),
            coverage=float(c["coverage"]),
            source=str(c["source"]),
            mask_type=str(c.get("mask_type", MASK_TYPES.get(str(meta["protocol"]), ""))),
            kind=str(c.get("kind", "")),
        )
        for c in meta["cases"]
    ]
    return CaseSet(
        root=root,
        protocol=str(meta["protocol"]),
        seed=int(meta["seed"]),
        size=int(meta["size"]),
        num=int(meta["num"]),
        source=str(meta["source"]),
        cases=cases,
    )


__all__ = [
    "PROTOCOLS",
    "Case",
    "CaseSet",
    "build_cases",
    "coverage_label",
    "is_case_set",
    "list_images",
    "load_cases",
    "random_crop",
    "read_format_json",
    "write_png",
]
