"""``gmcnn convert``: an official GMCNN checkpoint -> our export format.

PyTorch ``*_net_GM.pth`` files become a :class:`~gmcnn.models.gmcnn.GMCNN` export; TensorFlow release folders
(``checkpoint`` + ``snap-*``), prefixes or ``.index`` files are read without TensorFlow into a
:class:`~gmcnn.models.gmcnn_tf.GMCNNTF` export (``"architecture": "gmcnn_tf"``, BGR contract). Training facts
come from the recognised release (a TF folder keeps its release name) or from the flags; nothing is guessed.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gmcnn.weights import registry
from gmcnn.weights.format import export_generator
from gmcnn.weights.loader import pth_release
from gmcnn.weights.official_pth import load_official
from gmcnn.weights.official_tf import is_tf_checkpoint, load_official_tf


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint", help="official PyTorch generator file (*_net_GM.pth), or a TensorFlow release folder / prefix"
    )
    parser.add_argument("output", help="folder for generator.safetensors + generator.json")
    parser.add_argument("--image-size", type=int, help="training image size (default: the recognised release's)")
    parser.add_argument("--mask-type", help="training mask type, rect|stroke (default: the recognised release's)")


def _training_facts(args: argparse.Namespace, release: registry.WeightsEntry | None) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    if release is not None and release.contract is not None:
        facts = dict(release.contract.to_meta()["training"], release=release.name)
    facts["source"] = f"official checkpoint {Path(args.checkpoint).name}"
    if args.image_size:
        facts["image_size"] = args.image_size
    if args.mask_type:
        facts["mask_type"] = args.mask_type
    return facts


def run(args: argparse.Namespace) -> int:
    generator: Any
    release: registry.WeightsEntry | None
    if is_tf_checkpoint(args.checkpoint):
        generator, info = load_official_tf(args.checkpoint)
        release = registry.match_tf_release(Path(info["prefix"]), generator.config.cnum)
        print(f"read {info['variables']} generator variables from {info['prefix']} ({info['ignored']} others ignored)")
    else:
        generator = load_official(args.checkpoint)
        release = pth_release(generator.config)
    meta = export_generator(generator, args.output, training=_training_facts(args, release))
    print(f"wrote {meta.parent}" + (f" ({release.name})" if release is not None else ""))
    return 0
