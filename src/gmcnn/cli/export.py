"""``gmcnn export``: a generator as ONNX (optionally int8) or as a safetensors re-export.

Usage::

    gmcnn export --onnx model.onnx [--model default|PATH] [--height H --width W] [--int8 [--calibration DIR]]
    gmcnn export --safetensors DIR [--model default|PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gmcnn.errors import UserError
from gmcnn.files import atomic_write
from gmcnn.inpainting.onnx import calibration_photos, onnx_bytes, photo_crops, quantize_int8
from gmcnn.weights.format import export_generator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--onnx", type=Path, metavar="PATH", help="write an ONNX model here")
    target.add_argument("--safetensors", type=Path, metavar="DIR", help="re-export as generator.safetensors + .json")
    parser.add_argument(
        "--model", default="default", help="'default', a registry name or a path (default: %(default)s)"
    )
    parser.add_argument("--height", type=int, help="fixed input height (default: dynamic height and width)")
    parser.add_argument("--width", type=int, help="fixed input width (default: dynamic height and width)")
    parser.add_argument("--int8", action="store_true", help="quantise the ONNX model to int8 (static, calibrated)")
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="DIR",
        help="photos to calibrate int8 ranges on (default: scikit-image's sample photos)",
    )


def run(args: argparse.Namespace) -> int:
    from gmcnn.inpainting.pipeline import Inpainter

    if args.safetensors and (args.height or args.width or args.int8 or args.calibration):
        raise UserError("--height, --width, --int8 and --calibration apply to --onnx only")
    if args.calibration and not args.int8:
        raise UserError("--calibration only makes sense with --int8")
    inpainter = Inpainter.from_pretrained(args.model, device="cpu", runtime="eager", precision="fp32")
    if args.safetensors:
        path = export_generator(inpainter.generator, args.safetensors, training=inpainter.training)
        print(f"wrote {path.parent}")
        return 0
    model = onnx_bytes(inpainter.generator, height=args.height, width=args.width)
    if args.int8:
        model = quantize_int8(model, photo_crops(calibration_photos(args.calibration)))
    atomic_write(args.onnx, lambda tmp: tmp.write_bytes(model))
    print(f"wrote {args.onnx} ({len(model) / 2**20:.1f} MiB)")
    return 0
