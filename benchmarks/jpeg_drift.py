"""How far the known pixels of a JPEG drift when a fill is saved as JPEG again, per encoder setting.

JPEG cannot store a decoded image exactly, so every save changes pixels outside the mask. This measures, over
five generations (fill -> save -> reopen -> fill ...), the share of changed known pixels and the largest
change, for the settings the server could use; the server uses the least drifting one, and the page offers a
PNG result where the known pixels must stay exact.

    python3 benchmarks/jpeg_drift.py   # writes benchmarks/results/web/jpeg_drift.md
    python3 benchmarks/jpeg_drift.py --smoke   # two generations of a 64x64 crop, written to a temp folder
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "quality 95, 4:4:4 (before)": {"quality": 95, "subsampling": 0},
    "quality 'keep' (the source's tables and sampling)": "keep",
    "quality 100, 4:4:4 (now)": {"quality": 100, "subsampling": 0},
}


def generations(source: bytes, setting: dict[str, int] | str, n: int = 5) -> list[tuple[float, int, int]]:
    first = Image.open(io.BytesIO(source))
    first.load()
    reference = np.asarray(first).astype(int)
    current, rows = first, []
    for _ in range(n):
        buf = io.BytesIO()
        if setting == "keep":
            current.save(buf, "JPEG", quality="keep")  # needs the JpegImageFile itself, as Pillow documents
        else:
            Image.fromarray(np.asarray(current)).save(buf, "JPEG", **setting)
        current = Image.open(io.BytesIO(buf.getvalue()))
        current.load()
        diff = np.abs(np.asarray(current).astype(int) - reference)
        rows.append((100 * float((diff.max(axis=2) > 0).mean()), int(diff.max()), len(buf.getvalue())))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--generations", type=int, default=5, help="saves per setting (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/web", help="folder for jpeg_drift.md")
    ap.add_argument("--smoke", action="store_true", help="2 generations of a 64x64 crop, written to a temp folder")
    args = ap.parse_args()
    photo = Image.open(ROOT / "examples/astronaut.png").convert("RGB")
    if args.smoke:
        photo = photo.crop((0, 0, 64, 64))
        args.generations, args.out = 2, Path(tempfile.mkdtemp(prefix="gmcnn-smoke-"))
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    n, source = args.generations, "a 64x64 crop of " if args.smoke else ""
    lines = [
        f"# JPEG drift of known pixels over {n} saves ({source}examples/astronaut.png as a quality-90 JPEG)",
        "",
        "`python3 benchmarks/jpeg_drift.py`. Changed = share of pixels with any channel different from the first",
        "decode; max = largest change in levels (0-255). Lossless formats (PNG, lossless WebP, TIFF, BMP) and the",
        "painter's PNG result change none.",
        "",
        f"| setting | gen 1 changed | gen 1 max | gen {n} changed | gen {n} max | file bytes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, setting in SETTINGS.items():
        rows = generations(buf.getvalue(), setting, args.generations)
        lines.append(
            f"| {name} | {rows[0][0]:.1f} % | {rows[0][1]} | {rows[-1][0]:.1f} % | {rows[-1][1]} | {rows[0][2]:,} |"
        )
    out = args.out / "jpeg_drift.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print("wrote", out)


if __name__ == "__main__":
    main()
