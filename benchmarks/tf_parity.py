"""Converted TF-release GMCNN against TensorFlow itself: max abs difference per size and width.

Input: folders written by ``scripts/tf_reference.py`` (a real TF1 checkpoint of the generator with random
weights, built with TF's own layers, plus TF's output on a fixed input). Each is converted with our reader
(no TensorFlow imported here), run through :class:`gmcnn.models.gmcnn_tf.GMCNNTF`, and compared with TF's
output. Writes ``benchmarks/results/tf_parity.md``.

With ``--pipeline DIR`` (a ``scripts/tf_reference.py --photo`` output: TensorFlow's official test pipeline on
a 512x680 photo with seeded cnum-32 weights) it checks the whole fill instead: the checkpoint is regenerated from
the seed into a folder named like the release (``tests/helpers/release_weights.py``; its digest must equal
TensorFlow's side), loaded and filled by ``gmcnn.Inpainter`` with the default options, and compared in 8-bit
levels with TensorFlow's picture (also at ``process_size=512``, the size every model used to run at). That
section of ``tf_parity.md`` is replaced and the rest kept.

Usage::

    for c in 32 64; do for s in 256x256 512x680; do
      TF_USE_LEGACY_KERAS=1 /work/venv-tf/bin/python scripts/tf_reference.py --cnum $c --size $s --extra \\
          --seed $c --out REFS/ref_c${c}_${s}; done; done
    python3 benchmarks/tf_parity.py REFS/ref_* [--official REFS/official_c32_256x256 ...]

    TF_USE_LEGACY_KERAS=1 /work/venv-tf/bin/python scripts/tf_reference.py \\
        --photo tests/fixtures/places2_parity/photo.png --mask tests/fixtures/places2_parity/mask.png --out REFS/places2
    python3 benchmarks/tf_parity.py --pipeline REFS/places2
    python3 benchmarks/tf_parity.py --smoke   # the tests' cnum-4 reference (tests/fixtures/tf_cnum4), temp folder
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gmcnn.weights.official_tf import load_official_tf

RESULTS = Path(__file__).parent / "results" / "tf_parity.md"
SMOKE_REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tf_cnum4"
BAR = 1e-4
PIPELINE_HEADING = "## The official test pipeline: the Places2 release at 512x680"


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


def pipeline(folder: Path) -> str:
    """The ``--pipeline`` section: gmcnn's default fill against TensorFlow's official pipeline, in 8-bit levels."""
    from PIL import Image

    from gmcnn import Inpainter
    from gmcnn.inpainting.options import FillOptions

    tests = Path(__file__).resolve().parents[1] / "tests"
    sys.path[:0] = [str(tests), str(tests / "helpers")]
    import release_weights

    meta = json.loads((folder / "reference.json").read_text())
    fixture = tests / "fixtures" / "places2_parity"
    photo, mask = Image.open(fixture / meta["photo"]), Image.open(fixture / meta["mask"])
    hole = np.asarray(mask) > 127
    reference = np.asarray(Image.open(folder / "output.png")).astype(int)
    before_cast = np.load(folder / "output_float.npy")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        regenerated = Path(tmp) / meta["folder"]
        digest = release_weights.write_release(str(regenerated), seed=meta["seed"], gain=meta["gain"])
        assert digest == meta["weights_sha256"], "the regenerated weights differ from TensorFlow's"
        for source, path in (
            ("regenerated from the seed", regenerated),
            ("TensorFlow's Saver", folder / meta["folder"]),
        ):
            inpainter = Inpainter.from_pretrained(path, device="cpu", precision="fp32")
            for label, options in (("default", FillOptions()), ("process_size=512", FillOptions(process_size=512))):
                start = time.perf_counter()
                result = inpainter.fill(photo, mask, options)
                seconds = time.perf_counter() - start
                ours = np.asarray(result.image).astype(int)
                diff = np.abs(ours - reference)
                rows.append(
                    f"| {source} | {inpainter.name} | {label} | {result.plan.strategy} at {result.plan.process_size} "
                    f"| {diff.max()} | {diff[hole].mean():.3f} | {(diff > 1).mean() * 100:.2f} % "
                    f"| {np.abs(ours - before_cast)[hole].max():.3f} | {seconds:.1f} s |"
                )
                print(rows[-1], flush=True)
    spread = (reference - np.asarray(photo).astype(int))[hole]
    return "\n".join(
        [
            PIPELINE_HEADING,
            "",
            f"TensorFlow {meta['tensorflow']} ran the official test pipeline (`tensorflow/test.py` + "
            "`GMCNNModel.evaluate`, re-stated in `scripts/tf_reference.py --photo`) on the official Places2 demo photo "
            f"`places2-512x680/004.png` with a free-form mask ({hole.mean() * 100:.1f} % of the pixels), with a "
            f"cnum-{meta['cnum']} generator whose weights come from seed {meta['seed']} (Glorot-uniform x "
            f"{meta['gain']}, biases U(-0.05, 0.05): `tests/helpers/release_weights.py`), saved by `tf.train.Saver` in "
            "a folder named like the release with a critic layer and an Adam slot beside the generator. gmcnn loads "
            "the folder (the Saver's, and one written again from the seed, bit-identical: sha256 of the weights "
            f"`{meta['weights_sha256'][:16]}...`), recognises the release by its folder name, and fills the photo "
            "with `Inpainter.from_pretrained(folder, precision='fp32').fill(photo, mask)`. TensorFlow's fill is far "
            f"from the photo (mean {np.abs(spread).mean():.1f} levels in the hole), so agreement is not trivial. "
            "Levels are 0-255; "
            "TensorFlow truncates to uint8 where gmcnn rounds, so 1 level is the floor.",
            "",
            "| checkpoint | recognised as | options | plan | max level diff | mean in hole | pixels > 1 level "
            "| max vs TF before its cast (hole) | fill time |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            "Command: `python3 benchmarks/tf_parity.py --pipeline REFS/places2` (see the script's docstring); the "
            "test `tests/test_tf_parity_places2.py` checks the default row against the committed "
            "`tests/fixtures/places2_parity/reference.png`. `precision='fp32'` is what `auto` picks on CPUs without "
            "bf16 units, like this one; not measured here: CUDA (which may run convolutions in TF32) and bf16 CPUs, "
            "where `auto` runs bf16 (about 50 dB from fp32).",
            "",
        ]
    )


def replace_section(text: str, heading: str, section: str) -> str:
    """``text`` with the section under ``heading`` (up to the next ``## ``) replaced by ``section``, or appended."""
    start = text.find(heading)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(heading))
    return text[:start] + section + (text[end + 1 :] if end >= 0 else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folders", nargs="*", type=Path, help="tf_reference.py output folders")
    ap.add_argument("--pipeline", type=Path, help="a tf_reference.py --photo output folder (see above)")
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
    if args.pipeline is not None:
        section = pipeline(args.pipeline)
        old = args.out.read_text() if args.out.is_file() else "# TF-release GMCNN: converted weights vs TensorFlow\n"
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(replace_section(old, PIPELINE_HEADING, section))
        print(section)
        if not args.folders:
            return
    if not args.folders:
        ap.error("give tf_reference.py output folders, --pipeline DIR or --smoke")
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
    kept = args.out.read_text() if args.out.is_file() else ""
    pipeline_part = kept[kept.find(PIPELINE_HEADING) :] if PIPELINE_HEADING in kept else ""
    args.out.write_text(header + text + ("\n" + pipeline_part if pipeline_part else ""))
    print(header + text)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
