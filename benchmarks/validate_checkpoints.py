"""Validation metrics of saved generators, for runs whose in-training validation was rare (or to re-check one).

Usage: python3 benchmarks/validate_checkpoints.py RUN_DIR [EXPORT=STEP ...] [--baselines telea,pushpull]
       [--mask-seeds N] [--realism PATH/realism.py] [--every K] [--raw] [--smoke]

Scores every ``RUN_DIR/checkpoints/step_*.pt`` (the averaged weights when the run keeps them, the raw ones with
``--raw``; every ``K``-th step with ``--every K``) and each extra export folder given as ``PATH=STEP`` on the run's
own validation cases (``gmcnn.training.validation.validate``'s images, size and seeded masks) and writes
``RUN_DIR/val_checkpoints.jsonl``, one line per generator: mean ``val_psnr``, ``val_ssim``, ``val_hole_psnr`` and,
pooled over all cases, the realism measures ``val_hole_swd`` (hole SWD over 7x7 patches of a 3-level Laplacian
pyramid, ``gmcnn.evaluation.realism``) and ``val_grad_ratio`` (hole gradient energy, fill / truth).
``benchmarks/training_curves.py`` plots it. ``--baselines`` scores classical fills on the same cases into
``RUN_DIR/val_baselines.json`` (drawn as reference lines).

``--mask-seeds N`` uses N mask draws per validation photo (seeds ``seed + 1000 i``; ``i = 0`` is the run's own
validation): 8 photos give 8 cases, too few patches for a stable pooled SWD. Runs compared in the model card use
``--mask-seeds 4`` (32 cases). ``--realism`` loads the realism module from a file when the installed package does
not have it yet. ``--smoke`` trains a 2-step tiny run in a temporary folder and scores it against push-pull.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from gmcnn.data.datasets import ImageFileDataset, Sample
from gmcnn.evaluation.baselines import get_baseline
from gmcnn.models.base import Generator
from gmcnn.training.batches import make_datasets, quiet_loader
from gmcnn.training.build import create_generator
from gmcnn.training.config import TrainConfig
from gmcnn.training.state import load_checkpoint
from gmcnn.training.validation import case_scores, predict, to_uint8
from gmcnn.weights.format import load_generator

Case = tuple[np.ndarray, np.ndarray, np.ndarray]  # fill, truth (uint8 HxWx3), hole (bool HxW)


def load_realism(path: str | None) -> ModuleType:
    """``gmcnn.evaluation.realism``, or the module in the file ``path``."""
    if path is None:
        import gmcnn.evaluation.realism as realism

        return realism
    spec = importlib.util.spec_from_file_location("realism", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load a module from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["realism"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def validation_sets(cfg: TrainConfig, mask_seeds: int) -> list[ImageFileDataset]:
    """The run's validation set and ``mask_seeds - 1`` more with other seeded masks on the same photos."""
    sets = []
    for i in range(mask_seeds):
        _, val_set = make_datasets(cfg.updated(seed=cfg.seed + 1000 * i), rank=0)
        if val_set is None:
            raise SystemExit("the run has no validation images")
        sets.append(val_set)
    return sets


def generator_cases(generator: Generator, val_sets: list[ImageFileDataset], cfg: TrainConfig) -> list[Case]:
    cases = []
    for val_set in val_sets:
        for batch in quiet_loader(val_set, batch_size=cfg.batch_size):
            _, inpainted = predict(generator, Sample(*batch), cfg)
            holes = (batch.mask[:, 0] > 0.5).numpy()
            cases += zip(to_uint8(inpainted), to_uint8(batch.image), holes, strict=True)
    return cases


def baseline_cases(name: str, val_sets: list[ImageFileDataset]) -> list[Case]:
    fill = get_baseline(name)
    cases = []
    for val_set in val_sets:
        for i in range(len(val_set)):
            sample = val_set[i]
            image = to_uint8(sample.image[None])[0]
            hole = sample.mask[0].numpy() > 0.5
            cases.append((fill(image, hole), image, hole))
    return cases


def summarise(cases: list[Case], realism: ModuleType) -> dict[str, float]:
    """Means of the per-case distortion scores, realism pooled over all cases (as ``gmcnn eval`` pools it)."""
    scores = [case_scores(*case) for case in cases]
    out = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    pool = realism.RealismPool()
    for fill, truth, hole in cases:
        pool.add(fill, truth, hole)
    out.update(val_hole_swd=pool.swd(), val_grad_ratio=pool.grad_ratio(), cases=len(cases))
    return out


def smoke_run(folder: Path) -> Path:
    """A 2-step tiny run on random images (what ``--smoke`` scores)."""
    import numpy as np
    from PIL import Image

    from gmcnn.cli import main as gmcnn_main

    data = folder / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = folder / "run"
    args = ["train", "--data", str(data), "--run-dir", str(run), "--preset", "tiny", "--set", "idmrf_weight=0",
            "--set", "val_fraction=0.5", "--set", "max_steps=2"]  # fmt: skip
    if gmcnn_main(args) != 0:
        raise SystemExit("the smoke run did not train")
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", nargs="?", type=Path, help="a gmcnn train run directory")
    ap.add_argument("exports", nargs="*", metavar="EXPORT=STEP", help="extra export folders to score as step STEP")
    ap.add_argument("--baselines", help="comma-separated classical fills to score on the same cases")
    ap.add_argument("--mask-seeds", type=int, default=1, help="mask draws per validation photo")
    ap.add_argument("--realism", help="load the realism module from this file")
    ap.add_argument("--every", type=int, help="score only every K-th checkpoint step")
    ap.add_argument("--raw", action="store_true", help="the raw weights, not the weight average")
    ap.add_argument("--smoke", action="store_true", help="score a 2-step tiny run made in a temporary folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.smoke:
            args.run_dir, args.baselines = smoke_run(Path(tmp)), "pushpull"
        if args.run_dir is None:
            ap.error("run_dir is required (or --smoke)")
        return score(args)


def score(args: argparse.Namespace) -> int:
    run = args.run_dir
    realism = load_realism(args.realism)
    torch.set_num_threads(1)
    cfg = TrainConfig.from_dict(json.loads((run / "config.json").read_text()))
    val_sets = validation_sets(cfg, args.mask_seeds)
    if args.baselines:
        scores = {name: summarise(baseline_cases(name, val_sets), realism) for name in args.baselines.split(",")}
        print(json.dumps(scores))
        (run / "val_baselines.json").write_text(json.dumps(scores, indent=1) + "\n")
    generators: list[tuple[int, Generator]] = []
    for spec in args.exports:
        path, _, step = spec.partition("=")
        generators.append((int(step), load_generator(path)[0]))
    for ckpt in sorted((run / "checkpoints").glob("step_*.pt")):
        state = load_checkpoint(ckpt)
        if args.every and state["step"] % args.every:
            continue
        g = create_generator(cfg)
        g.load_state_dict(state["generator"] if args.raw else state.get("generator_ema", state["generator"]))
        generators.append((state["step"], g.eval()))
    rows = []
    for step, g in sorted(generators, key=lambda t: t[0]):
        rows.append({"step": step, **summarise(generator_cases(g, val_sets, cfg), realism)})
        print(json.dumps(rows[-1]), flush=True)
    if rows:
        name = f"val_checkpoints{'_raw' if args.raw else ''}.jsonl"
        (run / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
