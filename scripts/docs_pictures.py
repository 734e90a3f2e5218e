"""The pictures README.md and MODEL_CARD.md show, copied from where their commands write them into docs/, small.

Benchmarks and tools write full-size pictures outside git (``runs/``, git-ignored); the repository keeps only
the ones a document shows, downscaled and re-encoded (JPEG for photos and contact sheets, palette PNG for
plots), each well under 1 MB. Regenerate a picture with the command in ``PICTURES``, then run::

    python3 scripts/docs_pictures.py            # every source that exists -> docs/ (the others are listed)
    python3 scripts/docs_pictures.py --list     # what each picture is made by
    python3 scripts/docs_pictures.py --smoke    # convert a generated picture into a temp folder
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
QUALITY = "python3 benchmarks/quality.py --num 30 --methods default,pushpull,telea,ns,biharmonic,patchmatch"
QUALITY_V2 = (
    "python3 benchmarks/quality.py --data data/corpus_v2/val --num 30 --methods "
    "default,default:detail=0,pushpull,telea,ns,biharmonic,patchmatch "
    "--out benchmarks/results/quality_v2 --work runs/quality_v2"
)
CURVES = "python3 benchmarks/training_curves.py {out} RUN_DIR[=label] ... (the runs are named in MODEL_CARD.md)"
SCREENSHOT = "python3 scripts/painter_screenshot.py data/corpus/train/mate-ladybird.jpg {out} --model default"


@dataclass(frozen=True)
class Picture:
    target: str  # under the repository root, in docs/
    source: str  # what the command writes, under the repository root
    command: str  # how to make the source ({out} = the source path)
    width: int  # at most this many pixels wide in docs/


PICTURES = [
    Picture("docs/painter.jpg", "runs/screenshots/painter.png", SCREENSHOT, 1200),
    Picture("docs/painter-phone.jpg", "runs/screenshots/painter-phone.png", SCREENSHOT + " --phone", 520),
    Picture("docs/painter-explain.jpg", "runs/screenshots/painter-explain.png", SCREENSHOT + " --explain", 1200),
    *(
        Picture(f"docs/model_card/quality_{p}.jpg", f"runs/quality/{p}/contact_sheet_1.png", QUALITY, 1600)
        for p in ("paper-rect", "center", "strokes")
    ),
    Picture("docs/model_card/quality_frontier.png", "runs/quality/frontier.png", QUALITY, 1650),
    *(
        Picture(f"docs/model_card/quality_v2_{p}.jpg", f"runs/quality_v2/{p}/contact_sheet_1.png", QUALITY_V2, 1600)
        for p in ("paper-rect", "center")
    ),
    Picture("docs/model_card/quality_v2_frontier.png", "runs/quality_v2/frontier.png", QUALITY_V2, 1650),
    *(
        Picture(f"docs/model_card/{name}.png", f"runs/training/{name}.png", CURVES, 1890)
        for name in ("curves", "curves_m_g", "curves_realism")
    ),
]


def shrink(source: Path, target: Path, width: int) -> int:
    """``source`` at most ``width`` px wide into ``target`` (format by suffix); returns the bytes written."""
    image = Image.open(source)
    image.load()
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".jpg":
        image.convert("RGB").save(target, "JPEG", quality=80, optimize=True, progressive=True)
    else:  # plots: a few flat colours, so a 256-colour palette loses nothing visible
        image.convert("RGB").quantize(256).save(target, "PNG", optimize=True)
    return target.stat().st_size


def smoke_source(folder: Path) -> Path:
    """A plot-like and a photo-like picture, 2000 px wide (the smoke run converts both)."""
    rng = np.random.default_rng(0)
    smooth = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((2000, 1500))
    folder.mkdir(parents=True, exist_ok=True)
    smooth.save(folder / "picture.png")
    return folder / "picture.png"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print each picture's source and command, convert nothing")
    ap.add_argument("--smoke", action="store_true", help="convert a generated picture into a temp folder")
    args = ap.parse_args()
    if args.smoke:
        tmp = Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
        source = smoke_source(tmp / "runs")
        for suffix in (".jpg", ".png"):
            size = shrink(source, tmp / "docs" / f"picture{suffix}", 800)
            print(f"wrote {tmp / 'docs' / f'picture{suffix}'} ({size:,} bytes)")
        return 0
    missing = []
    for pic in PICTURES:
        source = ROOT / pic.source
        if args.list or not source.is_file():
            line = f"{pic.target} <- {pic.source}: {pic.command.format(out=pic.source)}"
            print(line) if args.list else missing.append(line)
            continue
        size = shrink(source, ROOT / pic.target, pic.width)
        print(f"{pic.target}: {size:,} bytes")
    if missing:
        print("not made yet (run the command, then this script again):", *missing, sep="\n  ", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
