"""Evaluation case sets: deterministic (image, mask) pairs from a folder of photos and a seed, written once.

A *case set* is a folder that any tool can read without gmcnn::

    manifest.json     {"format": "gmcnn-eval-cases", "version": 1, "protocol", "seed", "size", "num",
                       "source", "strata"?, "cases": [{"id", "image", "mask", "source", "scale", "crop", "bin",
                       "mask_type", "kind", "coverage"}]}
    manifest.csv      the same per-case fields, one row per case
    images/NNNN.png   the ground-truth crop, RGB, size x size
    masks/ID.png      the hole, 8-bit grey, 255 = hole

Protocols (all at ``size`` = 256 by default):

* ``paper-rect`` — one 128x128 hole (half the side) at a uniformly random place: the GMCNN paper's protocol.
* ``center`` — the 128x128 hole in the middle.
* ``strokes`` — free-form brush strokes (:class:`gmcnn.data.masks.StrokeMask` with 2-5 parts), redrawn until the
  hole covers 15-40 % of the image.
* ``mixed`` — the three above in turn: ``rect`` (as ``paper-rect``), ``center``, ``strokes``, on the
  crop's index in its stratum, so every scene kind gets all three in equal parts; ``mask_type`` says which.
* ``coverage`` — irregular masks (:class:`gmcnn.data.masks.IrregularMask`) in the bins 1-10 %, 10-20 %, ...,
  50-60 % (the partial-convolutions benchmark); every crop is used once per bin, so bins compare the same
  images. Within a bin the target coverage is drawn uniformly.

Crops: source images (found recursively, sorted by path) are visited in a seeded random order, cycling when
``num`` exceeds their count. Each is resized (Lanczos) so its shorter side is ``size * u`` with ``u`` uniform in
``[1, min(2, shorter side / size)]`` — photos are seen at a random scale up to 2x the crop, never upscaled
unless smaller than the crop — and a ``size`` x ``size`` crop is taken at a random place. Case ``i`` draws from
``np.random.default_rng([seed, i])``, so asking for more cases keeps the first ones unchanged.

Stratified sets (``stratify=True``, :mod:`gmcnn.evaluation.strata`) draw the crops per scene kind
(:mod:`gmcnn.data.scene_kinds`) in seeded quotas, e.g. with astrophotographs capped at a quarter; sources may
then come from several folders (the corpus's ``val/`` photos and ``textures/val/``). Every case records its
``kind`` (``other`` for files that are not corpus files) and its ``mask_type``, so tables can be split by both.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image

from gmcnn.data import datasets
from gmcnn.data.masks import DEFAULT_COVERAGE_BINS, IrregularMask, RectMask, StrokeMask
from gmcnn.data.scene_kinds import OTHER, kind_of, scene_of
from gmcnn.errors import UserError
from gmcnn.evaluation import strata as strata_mod
from gmcnn.files import atomic_write
from gmcnn.io import IMAGE_EXTENSIONS, load_image

CASES_FORMAT: Final = "gmcnn-eval-cases"
CASES_VERSION: Final = 1
MANIFEST_JSON: Final = "manifest.json"
MANIFEST_CSV: Final = "manifest.csv"
STROKE_COVERAGE: Final = (0.15, 0.40)
_MAX_REDRAWS: Final = 1000

# One protocol = a function (size, rng, index) -> [(bin label, mask type, hole mask bool (size, size))], one
# entry per case; index = the crop's position in its stratum (only `mixed` reads it).
CaseMask = tuple[str, str, np.ndarray]
ProtocolMasks = Callable[[int, np.random.Generator, int], list[CaseMask]]


def _paper_rect(size: int, rng: np.random.Generator, index: int = 0) -> list[CaseMask]:
    mask, _ = RectMask(box_fraction=0.5, max_shrink=0)(size, size, rng)
    return [("all", "rect", mask)]


def _center(size: int, rng: np.random.Generator, index: int = 0) -> list[CaseMask]:
    mask = np.zeros((size, size), dtype=bool)
    side = size // 2
    top = (size - side) // 2
    mask[top : top + side, top : top + side] = True
    return [("all", "center", mask)]


def _strokes(size: int, rng: np.random.Generator, index: int = 0) -> list[CaseMask]:
    low, high = STROKE_COVERAGE
    # 2-5 parts put ~70 % of the official-style stroke masks inside 15-40 %; the rest are redrawn.
    draw = StrokeMask(parts=(2, 5))
    for _ in range(_MAX_REDRAWS):
        mask, _ = draw(size, size, rng)
        if low <= mask.mean() <= high:
            return [("all", "strokes", mask)]
    raise RuntimeError(f"no stroke mask with {low:.0%}-{high:.0%} coverage in {_MAX_REDRAWS} draws at {size}px")


def coverage_label(low: float, high: float) -> str:
    """Bin label used in manifests and tables, e.g. ``"10-20%"``."""
    return f"{round(low * 100)}-{round(high * 100)}%"


def _mixed(size: int, rng: np.random.Generator, index: int = 0) -> list[CaseMask]:
    return _MIXED[index % len(_MIXED)](size, rng, index)


_MIXED: tuple[ProtocolMasks, ...] = (_paper_rect, _center, _strokes)


def _coverage(size: int, rng: np.random.Generator, index: int = 0) -> list[CaseMask]:
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
        out.append((coverage_label(low, high), "irregular", mask))
    return out


# The mask type of the cases of manifests written before the "mask_type" field, by protocol.
MASK_TYPES: Final = {"paper-rect": "rect", "center": "center", "strokes": "strokes", "coverage": "irregular"}
# Name -> case generator; `gmcnn eval --protocol` chooses from these.
PROTOCOLS: dict[str, ProtocolMasks] = {
    "paper-rect": _paper_rect,
    "center": _center,
    "strokes": _strokes,
    "mixed": _mixed,
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
    kind: str = OTHER  # the source's scene kind (gmcnn.data.scene_kinds)

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
    strata: dict[str, Any] | None = None  # {"by": "kind", "max_share": {...}} for a stratified set
    min_side: int = 0  # sources with a shorter side below this were skipped

    def counts(self, field: str) -> dict[str, int]:
        """Cases per value of a :class:`Case` field (``"kind"``, ``"mask_type"``, ``"bin"``), first seen first."""
        out: dict[str, int] = {}
        for c in self.cases:
            out[getattr(c, field)] = out.get(getattr(c, field), 0) + 1
        return out

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
    data: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    num: int,
    seed: int = 0,
    size: int = 256,
    stratify: bool = False,
    max_share: Mapping[str, float] | None = None,
    min_side: int = 0,
) -> CaseSet:
    """Write the case set of ``protocol`` into ``out`` (or reuse the one already there) and load it.

    Args:
        protocol: a name in :data:`PROTOCOLS`.
        data: folder of source photos (searched recursively), or several folders.
        out: folder for the case set; created if needed.
        num: number of crops (cases, except for ``coverage``: one case per crop and bin).
        seed: fixes every random choice.
        size: crop side in pixels.
        stratify: draw the crops per scene kind (:func:`gmcnn.evaluation.strata.stratified`).
        max_share: with ``stratify``, the largest share of the crops per kind, e.g. ``{"astro": 0.25}``.
        min_side: skip sources whose shorter side is below this (0: use all; ``size``: never upscale a crop).

    Raises:
        UserError: unknown protocol, bad numbers, or ``out`` holding a case set with other parameters.
    """
    if protocol not in PROTOCOLS:
        raise UserError(f"unknown protocol {protocol!r}; choose one of {sorted(PROTOCOLS)}")
    if num < 1 or size < 16:
        raise UserError(f"need num >= 1 and size >= 16, got num={num}, size={size}")
    if max_share and not stratify:
        raise UserError("max_share (--max-share) applies to stratified case sets (--stratify kind)")
    out = Path(out)
    folders = [Path(data)] if isinstance(data, str | os.PathLike) else [Path(d) for d in data]
    params: dict[str, Any] = {"protocol": protocol, "seed": int(seed), "size": int(size), "num": int(num)}
    strata: dict[str, Any] | None = {"by": "kind", "max_share": dict(max_share or {})} if stratify else None
    if min_side:
        params["min_side"] = int(min_side)
    if (out / MANIFEST_JSON).is_file():
        existing = load_cases(out)
        have = {"protocol": existing.protocol, "seed": existing.seed, "size": existing.size, "num": existing.num,
                **({"min_side": existing.min_side} if existing.min_side else {})}  # fmt: skip
        if have != params or existing.strata != strata:
            raise UserError(f"{out} already holds a case set with {have} (strata {existing.strata}), not {params} "
                            f"(strata {strata}): use another folder or remove it")  # fmt: skip
        return existing

    sources = sorted(p for folder in folders for p in list_images(folder) if _shorter_side(p) >= min_side)
    if not sources:
        raise UserError(f"no image in {[str(f) for f in folders]} has a shorter side of {min_side} px or more")
    kinds = [kind_of(p) for p in sources]
    if stratify:
        draws = strata_mod.stratified(sources, kinds, [scene_of(p) for p in sources], num, seed, max_share)
    else:
        draws = strata_mod.in_turn(sources, kinds, num, seed)
    root = Path(os.path.commonpath([f.resolve() for f in folders])) if len(folders) > 1 else folders[0]
    entries = _write_draws(draws, PROTOCOLS[protocol], out, seed=seed, size=size, root=root, resolve=len(folders) > 1)
    manifest = {"format": CASES_FORMAT, "version": CASES_VERSION, **params, "source": str(root),
                **({"strata": strata} if strata else {}), "cases": entries}  # fmt: skip
    _write_csv(out / MANIFEST_CSV, entries)
    # The JSON goes last: a folder without it is an unfinished build and is simply rebuilt.
    text = json.dumps(manifest, indent=1) + "\n"
    atomic_write(out / MANIFEST_JSON, lambda tmp: tmp.write_text(text))
    return load_cases(out)


def _write_draws(
    draws: Sequence[strata_mod.Draw], masks_fn: ProtocolMasks, out: Path, *, seed: int, size: int, root: Path,
    resolve: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """Cut, mask and write every draw's case(s); returns their manifest entries (sources relative to ``root``)."""
    entries: list[dict[str, Any]] = []
    for i, draw in enumerate(draws):
        rng = np.random.default_rng([seed, i])
        crop, factor, box = random_crop(load_image(draw.source), size, rng)
        image_rel = f"images/{i:04d}.png"
        write_png(out / image_rel, crop)
        cases = masks_fn(size, rng, draw.index)
        for j, (bin_label, mask_type, mask) in enumerate(cases):
            case_id = f"{i:04d}" if len(cases) == 1 else f"{i:04d}-{j}"
            mask_rel = f"masks/{case_id}.png"
            write_png(out / mask_rel, mask.astype(np.uint8) * 255)
            source = (draw.source.resolve() if resolve else draw.source).relative_to(root).as_posix()
            entries.append({"id": case_id, "image": image_rel, "mask": mask_rel, "source": source,
                            "scale": round(factor, 6), "crop": box, "bin": bin_label, "mask_type": mask_type,
                            "kind": draw.kind, "coverage": round(float(mask.mean()), 6)})  # fmt: skip
    return entries


def _shorter_side(path: Path) -> int:
    with Image.open(path) as img:  # reads the header only
        return min(img.size)


def _write_csv(path: Path, entries: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    fields = ["id", "image", "mask", "source", "scale", "crop", "bin", "mask_type", "kind", "coverage"]
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
            kind=str(c.get("kind", OTHER)),
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
        strata=meta.get("strata"),
        min_side=int(meta.get("min_side", 0)),
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
