"""``gmcnn convert``: an official GMCNN checkpoint -> our export format."""

from __future__ import annotations

import argparse
from pathlib import Path

from gmcnn.weights.format import export_generator
from gmcnn.weights.official_pth import load_official


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="official PyTorch generator file (*_net_GM.pth)")
    parser.add_argument("output", help="folder for generator.safetensors + generator.json")
    parser.add_argument("--image-size", type=int, default=256, help="training image size of the checkpoint")
    parser.add_argument("--mask-type", default="rect", help="training mask type of the checkpoint (rect|free)")


def run(args: argparse.Namespace) -> int:
    generator = load_official(args.checkpoint)
    meta = export_generator(
        generator,
        args.output,
        training={"source": f"official checkpoint {Path(args.checkpoint).name}", "image_size": args.image_size,
                  "mask_type": args.mask_type},
    )  # fmt: skip
    print(f"wrote {meta.parent}")
    return 0
