"""Converted TF-release GMCNN against TensorFlow itself: max abs difference per size and width.

Input: folders written by ``scripts/tf_reference.py`` (a real TF1 checkpoint of the generator with random
weights, built with TF's own layers, plus TF's output on a fixed input). Each is converted with our reader
(no TensorFlow imported here), run through :class:`gmcnn.models.gmcnn_tf.GMCNNTF`, and compared with TF's
output. Writes ``benchmarks/results/tf_parity.md``.

Usage::

    for c in 32 64; do for s in 256x256 512x680; do
      TF_USE_LEGACY_KERAS=1 /work/venv-tf/bin/python scripts/tf_reference.py --cnum $c --size $s --extra \\
          --seed $c --out REFS/ref_c${c}_${s}; done; done
    python3 benchmarks/tf_parity.py REFS/ref_* [--official REFS/official_c32_256x256 ...]
    python3 benchmarks/tf_parity.py --smoke   # the tests' cnum-4 reference (tests/fixtures/tf_cnum4), temp folder
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gmcnn.weights.official_tf import load_official_tf

RESULTS = Path(__file__).parent / "results" / "tf_parity.md"
SMOKE_REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tf_cnum4"
BAR = 1e-4


def compare(folder: Path, output_name: str = "output.npy") -> dict[str, object]:
    """Convert ``folder``'s checkpoint, run it on the folder's input, compare with ``output_name``."""
    start = time.perf_counter()
    generator, info = load_official_tf(folder)
    convert_s = time.perf_counter() - start
    image = torch.from_numpy(np.load(folder / "image.npy")).permute(0, 3, 1, 2)  # NHWC BGR -> NCHW
    mask = torch.from_numpy(np.load(folder / "mask.npy")).permute(0, 3, 1, 2)
    reference = np.load(folder / output_name)
    with torch.inference_mode():
        ours = generator(image, mask).permute(0, 2, 3, 1).numpy()
    diff = np.abs(ours - reference)
    meta = json.loads((folder / "reference.json").read_text())
    return {
        "folder": folder.name,
        "cnum": generator.config.cnum,
        "size": "x".join(str(s) for s in image.shape[-2:]),
        "parameters": sum(p.numel() for p in generator.parameters()),
        "tf_parameters": meta.get("parameters"),
        "variables": info["variables"],
        "ignored": info["ignored"],
        "max_abs": float(diff.max()),
        "mean_abs": float(diff.mean()),
        "output_std": float(reference.std()),
        "convert_s": convert_s,
        "tensorflow": meta.get("tensorflow"),
    }


def table(rows: list[dict[str, object]], title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| reference | cnum | size | params (ours / TF) | vars used / ignored | max abs diff | mean abs diff | "
        f"TF output std | < {BAR:g} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = "yes" if float(r["max_abs"]) < BAR else "**no**"  # type: ignore[arg-type]
        lines.append(
            f"| {r['folder']} | {r['cnum']} | {r['size']} | {r['parameters']:,} / {r['tf_parameters']:,} | "
            f"{r['variables']} / {r['ignored']} | {r['max_abs']:.2e} | {r['mean_abs']:.2e} | "
            f"{r['output_std']:.3f} | {ok} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", type=Path, help="tf_reference.py output folders")
    ap.add_argument(
        "--official",
        nargs="*",
        type=Path,
        default=[],
        help="folders that also hold official_output.npy (the upstream network.py graph run on them)",
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--smoke", action="store_true", help="compare the tests' cnum-4 reference, write to a temp folder")
    args = ap.parse_args()  # fmt: skip
    if args.smoke:
        args.folders, args.out = [SMOKE_REFERENCE], Path(tempfile.mkdtemp(prefix="gmcnn-smoke-")) / RESULTS.name
    if not args.folders:
        ap.error("give at least one tf_reference.py output folder (or --smoke)")
    rows = []
    for folder in args.folders:
        rows.append(compare(folder))
        print(f"{folder.name}: max abs diff {rows[-1]['max_abs']:.2e}", flush=True)
    text = table(rows, "Our converter + GMCNNTF vs TensorFlow's graph (scripts/tf_reference.py)")
    if args.official:
        official = [compare(f, "official_output.npy") for f in args.official]
        text += "\n" + table(official, "Same checkpoints, vs the upstream tensorflow/net/network.py graph")
    tf_version = rows[0]["tensorflow"]
    header = (
        "# TF-release GMCNN: converted weights vs TensorFlow\n\n"
        f"TensorFlow {tf_version} (CPU, graph mode, `tf.compat.v1.layers`), random weights (Glorot-uniform "
        "kernels, N(0, 0.05) biases), a smooth random BGR input with a rectangle + stroke hole. Our side reads "
        "the checkpoint with `gmcnn.weights.tf_bundle` (no TensorFlow) and runs `GMCNNTF` in float32 eager PyTorch. "
        "Command: `python3 benchmarks/tf_parity.py REFS/*` (see the script's docstring).\n\n"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + text)
    print(header + text)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
