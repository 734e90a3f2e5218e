"""``gmcnn inpaint``: fill one image or a folder of images from the command line.

Masks pair with images by file stem: for ``photo.jpg`` the mask folder may hold ``photo.png``,
``photo_mask.png`` (or any supported extension). A single mask file is applied to every image. Outputs keep
the input's format, EXIF orientation (applied, tag reset), ICC profile and alpha.

A folder run is sharded and resumable (see :mod:`gmcnn.inpainting.batch`): under ``torchrun`` each process fills its
share of the sorted files, outputs that already exist are skipped (``--overwrite`` redoes them), and every
process appends what it did to ``OUT_DIR/manifests/rank-<rank>.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from gmcnn.errors import EmptyMask, UserError
from gmcnn.inpainting.batch import FILE_ERRORS, MANIFEST_DIR, Job, Outcome, Shard, run_shard
from gmcnn.inpainting.image import normalize_mask
from gmcnn.inpainting.options import FillOptions, FillResult
from gmcnn.io import IMAGE_EXTENSIONS, MAX_PIXELS, format_for_path, load_image, save_image

if TYPE_CHECKING:
    from gmcnn.inpainting.pipeline import Inpainter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="image file or folder of images")
    parser.add_argument(
        "--mask",
        "-m",
        type=Path,
        required=True,
        help="mask file (applied to all images) or folder of masks matched by stem; white = fill",
    )
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        required=True,
        help="output file (single input) or folder; the format follows the input's unless a file "
        "name with another extension is given",
    )
    parser.add_argument(
        "--model",
        default="default",
        help="'default', a registry name, an export folder, a run "
        "directory or an official *_net_GM.pth (default: %(default)s)",
    )
    add_fill_arguments(parser)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (default: %(default)s)")
    parser.add_argument("--runtime", default="auto", help="execution back end (default: %(default)s)")
    parser.add_argument("--precision", default="auto", help="numeric precision (default: %(default)s)")
    parser.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave an existing output alone (always so for a folder, unless --overwrite)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="folder input: redo outputs that already exist; also let an output replace an input or mask file "
        "(refused otherwise)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="folder input: files loaded at a time; same-size ones go through the network together, byte-identical "
        "to one at a time (default: %(default)s, measured faster on CPU in benchmarks/results/batch_inference.md; "
        "1 = least memory)",
    )
    parser.add_argument(
        "--manifest-dir",
        type=Path,
        help="folder input: where each process writes its manifest (default: OUTPUT/manifests)",
    )
    parser.add_argument(
        "--explain",
        type=Path,
        metavar="DIR",
        help="one image: also write how it was filled into DIR (each stage, sources and confidence as PNGs, and "
        "explain.json with the stages' times and what each picture shows), from the same fill",
    )
    parser.add_argument("--max-pixels", type=int, default=MAX_PIXELS, help="refuse images larger than this")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


_TYPES = {"string": str, "integer": int, "number": float}


def add_fill_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per :class:`FillOptions` field, with its type, default, choices and bounds from the schema."""
    group = parser.add_argument_group("fill options")
    for name, entry in FillOptions.schema().items():
        bounds = ""
        if "minimum" in entry:
            bounds = f", {entry['minimum']}-{entry['maximum']}"
        group.add_argument(
            "--" + name.replace("_", "-"),
            type=_TYPES[entry["type"]],
            default=entry["default"],
            choices=entry.get("choices"),
            help=f"{entry['help']} (default: %(default)s{bounds})",
        )


def fill_options(args: argparse.Namespace) -> FillOptions:
    """The :class:`FillOptions` the parsed flags ask for (bounds checked there, as a one-line error)."""
    return FillOptions.from_kwargs(**{name: getattr(args, name) for name in FillOptions.schema()})


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def find_mask(image: Path, mask: Path) -> Path:
    """The mask for ``image``: ``mask`` itself if a file, else ``<stem>.*`` or ``<stem>_mask.*`` inside it."""
    if mask.is_file():
        return mask
    if not mask.is_dir():
        raise FileNotFoundError(f"no such mask file or folder: {mask}")
    for stem in (image.stem, f"{image.stem}_mask"):
        for ext in IMAGE_EXTENSIONS:
            for candidate in (mask / f"{stem}{ext}", mask / f"{stem}{ext.upper()}"):
                if candidate.is_file() and candidate.resolve() != image.resolve():
                    return candidate
    raise FileNotFoundError(
        f"no mask for {image.name} in {mask} (looked for {image.stem}.png, {image.stem}_mask.png, ...)"
    )


def _plan(args: argparse.Namespace) -> list[tuple[Path, Path, Path]]:
    """(image, mask, output) triples; raises for problems that make the whole run impossible."""
    src: Path = args.input
    if not src.exists():
        raise FileNotFoundError(f"no such input file or folder: {src}")
    if src.is_dir():
        images = _list_images(src)
        if not images:
            raise UserError(f"{src} holds no images with extensions {list(IMAGE_EXTENSIONS)}")
        if args.output.exists() and not args.output.is_dir():
            raise UserError(f"input is a folder, so --output must be a folder; {args.output} is a file")
        return [(p, args.mask, args.output / p.name) for p in images]
    out = args.output / src.name if args.output.is_dir() else args.output
    format_for_path(out)  # fail before loading the model on an unwritable extension
    return [(src, args.mask, out)]


def _refuse_overwriting_inputs(jobs: list[tuple[Path, Path, Path]]) -> None:
    """An output that is an input image or its mask (the same file, through hard links and symlinks too)."""
    for image, mask_arg, out in jobs:
        try:
            mask = find_mask(image, mask_arg)
        except FileNotFoundError:  # reported per file when it is filled
            mask = None
        for what, path in (("input image", image), ("mask", mask)):
            if path is not None and out.exists() and os.path.samefile(out, path):
                raise UserError(
                    f"the output {out} is the {what} {path}: refusing to overwrite it (choose another --output, "
                    "or pass --overwrite to replace it)"
                )


def run(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    options = fill_options(args)
    jobs = _plan(args)
    if not args.overwrite:
        _refuse_overwriting_inputs(jobs)
    if args.input.is_dir():
        if args.explain is not None:
            raise UserError("--explain works on one image at a time; give an image file, not a folder")
        return _run_folder(args, [Job(*job) for job in jobs], options)
    if args.skip_existing and jobs[0][2].exists():
        print("nothing to do: the output exists", file=sys.stderr)
        return 0
    image_path, mask_arg, out_path = jobs[0]
    image, mask = _load_pair(image_path, mask_arg, args.max_pixels)
    done = _load_inpainter(args).fill(image, mask, options, explain=args.explain is not None)
    assert isinstance(done.image, Image.Image)  # PIL in, PIL out
    save_image(done.image, out_path, like=image)
    windows = len(done.plan.windows)
    print(
        f"wrote {out_path} ({done.image.width}x{done.image.height} {format_for_path(out_path)}, "
        f"{_size(out_path.stat().st_size)}) in {done.seconds:.2f} s with model {done.model} "
        f"(strategy {done.strategy}, {windows} window{'s' if windows != 1 else ''})"
    )
    if args.explain is not None:
        _write_explanation(args.explain, done, image_path, out_path)
    return 0


def _load_pair(image_path: Path, mask_arg: Path, max_pixels: int) -> tuple[Image.Image, Image.Image]:
    """An image and its mask, loaded; an empty mask is refused here (the library would only warn)."""
    image = load_image(image_path, max_pixels=max_pixels)
    mask = load_image(find_mask(image_path, mask_arg), max_pixels=max_pixels)
    if not normalize_mask(mask, size=(image.height, image.width)).any():
        raise EmptyMask()
    return image, mask


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**20:.1f} MB" if nbytes >= 2**20 else f"{max(1, round(nbytes / 1024))} KB"


def _write_explanation(folder: Path, done: FillResult, image_path: Path, out_path: Path) -> None:
    """The pictures of how ``done`` was filled as PNGs, and explain.json: the stages, their times, the layers."""
    assert done.explanation is not None
    folder.mkdir(parents=True, exist_ok=True)
    pictures = done.explanation.pictures()
    for name, picture in pictures.items():
        Image.fromarray(picture).save(folder / f"{name}.png")
    info = done.info()
    summary = {"input": str(image_path), "output": str(out_path), "model": done.model, "options": info["options"],
               "strategy": done.strategy, "timings": info["timings"], **done.explanation.describe()}  # fmt: skip
    (folder / "explain.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {len(pictures)} pictures of how it was filled and explain.json to {folder}")


def _run_folder(args: argparse.Namespace, jobs: list[Job], options: FillOptions) -> int:
    """This process's shard of a folder; the exit code is 1 when files failed (0 under torchrun, see below)."""
    shard = Shard.from_env()
    loaded: list[Inpainter] = []  # loaded on first use: a rerun with every output done never loads the model

    def fill(chunk: list[Job]) -> list[Outcome]:
        if not loaded:
            loaded.append(_load_inpainter(args))
        return _fill_chunk(loaded[0], chunk, options, max_pixels=args.max_pixels)

    manifest_dir = args.manifest_dir or args.output / MANIFEST_DIR
    start = time.perf_counter()
    handled, failed = run_shard(jobs, fill, shard=shard, manifest_dir=manifest_dir, batch_size=args.batch_size,
                                overwrite=args.overwrite, progress=not args.quiet)  # fmt: skip
    model = f" with model {loaded[0].name}" if loaded else ""
    print(
        f"wrote {handled - failed} of {handled} images to {args.output} in {time.perf_counter() - start:.1f} s{model}"
    )
    if failed:
        where = f" on rank {shard.rank}" if shard.world_size > 1 else ""
        print(f"gmcnn inpaint: {failed} of {handled} images failed{where}; see {manifest_dir}", file=sys.stderr)
    # Under torchrun a worker's non-zero exit makes its agent stop the other workers mid-run, so bad files
    # (already in the manifest) must not fail the process there.
    return 1 if failed and shard.world_size == 1 else 0


def _fill_chunk(inpainter: Inpainter, chunk: list[Job], options: FillOptions, *, max_pixels: int) -> list[Outcome]:
    """Load, fill (together where possible) and save ``chunk``; one bad file fails alone."""
    start = time.perf_counter()
    errors: dict[int, str] = {}
    loaded: dict[int, tuple[Image.Image, Image.Image]] = {}
    for i, job in enumerate(chunk):
        try:
            loaded[i] = _load_pair(job.image, job.mask, max_pixels)
        except FILE_ERRORS as exc:
            errors[i] = str(exc)
    order = list(loaded)
    results: list[Image.Image | np.ndarray | None]
    try:
        batch = inpainter.fill_batch([loaded[i][0] for i in order], [loaded[i][1] for i in order], options)
        results = [r.image for r in batch]
    except FILE_ERRORS:  # one file's problem (e.g. a mask of the wrong size): find it by filling one at a time
        results = []
        for i in order:
            try:
                results.append(inpainter.fill(*loaded[i], options).image)
            except FILE_ERRORS as exc:
                errors[i] = str(exc)
                results.append(None)
    for i, result in zip(order, results, strict=True):
        if result is None:
            continue
        assert isinstance(result, Image.Image)  # PIL in, PIL out
        try:
            save_image(result, chunk[i].output, like=loaded[i][0])
        except FILE_ERRORS as exc:
            errors[i] = str(exc)
    seconds = (time.perf_counter() - start) / len(chunk)  # a batch's time, shared by its files
    return [(job, errors.get(i), seconds) for i, job in enumerate(chunk)]


def _load_inpainter(args: argparse.Namespace) -> Inpainter:
    from gmcnn.inpainting.pipeline import Inpainter

    device = args.device
    local_rank = os.environ.get("LOCAL_RANK")
    if device in ("auto", "cuda") and local_rank is not None:
        import torch

        if torch.cuda.is_available():
            device = f"cuda:{int(local_rank) % torch.cuda.device_count()}"  # one GPU per process on each node
    return Inpainter.from_pretrained(args.model, device=device, runtime=args.runtime, precision=args.precision)
