"""``gmcnn inpaint``: fill one image or a folder of images from the command line.

Masks pair with images by file stem: for ``photo.jpg`` the mask folder may hold ``photo.png``,
``photo_mask.png`` (or any supported extension). A single mask file is applied to every image. Outputs keep
the input's format, EXIF orientation (applied, tag reset), ICC profile and alpha.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from gmcnn.errors import UserError
from gmcnn.inpainting.options import FillOptions
from gmcnn.io import IMAGE_EXTENSIONS, MAX_PIXELS, format_for_path, load_image, save_image


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
    parser.add_argument("--skip-existing", action="store_true", help="leave outputs that already exist alone")
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


def run(args: argparse.Namespace) -> int:
    from gmcnn.inpainting.pipeline import Inpainter

    jobs = _plan(args)
    if args.skip_existing:
        jobs = [job for job in jobs if not job[2].exists()]
    if not jobs:
        print("nothing to do: every output exists", file=sys.stderr)
        return 0
    inpainter = Inpainter.from_pretrained(
        args.model, device=args.device, runtime=args.runtime, precision=args.precision
    )
    options = fill_options(args)
    failures = 0
    progress = None
    if len(jobs) > 1 and not args.quiet:
        from tqdm import tqdm

        progress = tqdm(total=len(jobs), unit="img", desc="inpaint")
    for image_path, mask_arg, out_path in jobs:
        try:
            image = load_image(image_path, max_pixels=args.max_pixels)
            mask = load_image(find_mask(image_path, mask_arg), max_pixels=args.max_pixels)
            result = inpainter.fill(image, mask, options).image
            assert isinstance(result, Image.Image)  # PIL in, PIL out
            save_image(result, out_path, like=image)
        except (UserError, ValueError, FileNotFoundError, OSError) as exc:
            if len(jobs) == 1:
                raise
            failures += 1
            message = f"gmcnn inpaint: skipped {image_path}: {exc}"
            (progress.write(message, file=sys.stderr) if progress else print(message, file=sys.stderr))
        if progress:
            progress.update(1)
    if progress:
        progress.close()
    if failures:
        print(f"gmcnn inpaint: {failures} of {len(jobs)} images failed", file=sys.stderr)
        return 1
    return 0
