"""``gmcnn train``: one process, or under torchrun on one or more nodes (see :mod:`gmcnn.training.distributed`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gmcnn.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="training images: a folder (searched recursively) or a .txt file list")
    parser.add_argument("--run-dir", required=True, help="where checkpoints, exports, metrics and samples go")
    parser.add_argument("--preset", help="preset name (paper_256_rect, paper_256_free, cpu_small, tiny) or .toml path")
    parser.add_argument("--max-steps", type=int, help="stop after this many generator steps (overrides max_steps)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --run-dir")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable); unknown keys list the valid ones")  # fmt: skip
    parser.add_argument("--val-data", help="validation images (default: a hash split of --data)")
    parser.add_argument("--vgg-weights", help="local VGG19 weights (torchvision layout) for the ID-MRF loss")
    parser.add_argument("--init-from", help="initialise the generator from an export (folder or .safetensors)")


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: `gmcnn train --help` must not need the train extra's packages.
    from gmcnn.training import distributed
    from gmcnn.training.config import TrainConfig, parse_overrides, resolve_config
    from gmcnn.training.train import resume_state, train

    overrides: dict[str, Any] = parse_overrides(args.overrides)
    for key, value in (("data", args.data), ("val_data", args.val_data), ("vgg_weights", args.vgg_weights),
                       ("max_steps", args.max_steps)):  # fmt: skip
        if value is not None:
            overrides[key] = str(value) if key != "max_steps" else value
    run_dir = Path(args.run_dir)
    # Join the job first: rank 0 alone reads the run directory and hands the checkpoint to the others.
    info = distributed.init(str(overrides.get("device", "auto")))
    try:
        state = resume_state(run_dir, resume=args.resume, info=info)
        if state is not None:
            # The saved config is the base; a preset is not re-applied, explicit overrides are.
            cfg = resolve_config(None, overrides, base=TrainConfig.from_dict(state["config"]))
        else:
            if not args.preset:
                raise UserError("--preset is required for a new run (e.g. --preset cpu_small)")
            cfg = resolve_config(args.preset, overrides)
        if not cfg.data:
            raise UserError("--data is required: a folder of training images or a .txt file list")
        return train(cfg, run_dir, state=state, init_from=args.init_from)
    finally:
        distributed.cleanup()
