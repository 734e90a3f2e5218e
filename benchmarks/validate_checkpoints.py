"""Validation metrics of saved generators, for runs whose in-training validation was rare (or to re-check one).

Usage: python3 benchmarks/validate_checkpoints.py RUN_DIR [EXPORT=STEP ...] [--baselines telea,pushpull]

Scores every ``RUN_DIR/checkpoints/step_*.pt`` (and each extra export folder given as ``PATH=STEP``) with the
run's own validation (``gmcnn.training.train.validate``: same images, same seeded masks, same size) and writes
``RUN_DIR/val_checkpoints.jsonl``, one ``{"step", "val_psnr", "val_ssim", "val_hole_psnr"}`` line per generator;
``benchmarks/training_curves.py`` plots it beside ``metrics.jsonl``. ``--baselines`` scores classical fills on
the same cases into ``RUN_DIR/val_baselines.json`` (drawn as reference lines).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from gmcnn.data.datasets import ImageFileDataset
from gmcnn.evaluation.baselines import get_baseline
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.training.config import TrainConfig
from gmcnn.training.state import load_checkpoint
from gmcnn.training.train import case_scores, make_datasets, to_uint8, validate
from gmcnn.weights.format import load_generator


def validate_baseline(name: str, val_set: ImageFileDataset) -> dict[str, float]:
    """:func:`validate`'s metrics for a classical fill on the same validation cases."""
    fill = get_baseline(name)
    cases = []
    for i in range(len(val_set)):
        sample = val_set[i]
        image = to_uint8(sample.image[None])[0]
        hole = sample.mask[0].numpy() > 0.5
        cases.append(case_scores(fill(image, hole), image, hole))
    return {k: float(np.mean([c[k] for c in cases])) for k in cases[0]}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    run = Path(argv[0])
    baselines: list[str] = []
    if "--baselines" in argv:
        at = argv.index("--baselines")
        baselines = argv[at + 1].split(",")
        argv = argv[:at] + argv[at + 2 :]
    cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    _, val_set = make_datasets(cfg, rank=0)
    if val_set is None:
        print(f"{run} has no validation images", file=sys.stderr)
        return 2
    if baselines:
        scores = {name: validate_baseline(name, val_set) for name in baselines}
        print(json.dumps(scores))
        (run / "val_baselines.json").write_text(json.dumps(scores, indent=1) + "\n")
    generators: list[tuple[int, GMCNN]] = []
    for spec in argv[1:]:
        path, _, step = spec.partition("=")
        generators.append((int(step), load_generator(path)[0]))
    for ckpt in sorted((run / "checkpoints").glob("step_*.pt")):
        state = load_checkpoint(ckpt)
        g = GMCNN(GMCNNConfig(cnum=cfg.cnum, pad_mode=cfg.pad_mode, fill=cfg.fill))
        g.load_state_dict(state.get("generator_ema", state["generator"]))  # the averaged weights when kept
        generators.append((state["step"], g.eval()))
    if not generators:
        return 0
    rows = []
    for step, g in sorted(generators, key=lambda t: t[0]):
        with torch.no_grad():
            scores = validate(g, val_set, cfg, torch.device("cpu"))
        rows.append({"step": step, **scores})
        print(json.dumps(rows[-1]))
    (run / "val_checkpoints.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
