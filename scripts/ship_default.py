"""Copy a training run's latest generator export into the package as the embedded "default" weights.

Usage: python3 scripts/ship_default.py RUN_DIR [--step N] [--note TEXT] [--dest DIR] [--smoke]

``--step N`` ships the generator of ``RUN_DIR/checkpoints/step_N.pt`` (e.g. the one with the best validation;
its weight average when the run keeps one) instead of the run's latest export.

Re-exports (so the JSON carries a fresh sha256, checked at every load) with the run's training facts plus
what the model card needs: steps, data, hardware. The run directory itself stays outside git. ``--smoke`` ships
a tiny untrained generator from a made-up run into a temporary folder and loads it back (never the package's).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from gmcnn.models.registry import architecture_of, create_model
from gmcnn.models.state_dict import load_state_strict
from gmcnn.training.state import load_checkpoint
from gmcnn.weights.format import export_generator, load_generator
from gmcnn.weights.registry import PACKAGE_WEIGHTS

RECIPE_KEYS = ("cnum", "fill", "fusion_act", "lr", "batch_size", "mask_type", "bf16", "hole_loss", "hole_weight",
               "known_weight", "idmrf_weight", "adv_weight", "pretrain_steps", "grad_clip")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path, nargs="?")
    ap.add_argument("--step", type=int, help="ship this checkpoint's generator instead of the latest export")
    ap.add_argument("--note", default="", help="free text kept in the JSON (e.g. how long it trained)")
    ap.add_argument("--dest", type=Path, default=PACKAGE_WEIGHTS / "default", help="where to write (the package's)")
    ap.add_argument("--smoke", action="store_true", help="ship a tiny made-up run to a temporary folder, load it back")
    args = ap.parse_args()
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            export_generator(create_model(config={"cnum": 4}), run / "export", training={"steps": 1})
            (run / "config.json").write_text(json.dumps({"cnum": 4, "lr": 1e-4}))
            path = ship(run, None, "smoke", Path(tmp) / "shipped")
            generator, meta = load_generator(path.parent)
            assert meta["training"]["recipe"] == {"cnum": 4, "lr": 1e-4} and generator.config.cnum == 4
            print(f"smoke: shipped and loaded back {path}")
        return
    if args.run_dir is None:
        ap.error("RUN_DIR is required")
    path = ship(args.run_dir, args.step, args.note, args.dest)
    print(f"shipped to {path.parent}")


def ship(run_dir: Path, step: int | None, note: str, dest: Path) -> Path:
    """Export ``run_dir``'s generator (its latest export, or checkpoint ``step``) to ``dest``; the JSON path."""
    generator, meta = load_generator(run_dir / "export")
    training = dict(meta.get("training", {}))
    if step is not None:
        state = load_checkpoint(run_dir / "checkpoints" / f"step_{step:08d}.pt")
        generator = create_model(architecture_of(generator).name, generator.config)
        # the weight average when the run keeps one: what the run exports, samples and validates
        load_state_strict(generator, state.get("generator_ema", state["generator"]), source="checkpoint")
        training.update(steps=state["step"], stage=state["stage"])
    training.pop("config", None)  # the full run config stays with the run; keep the card-relevant facts
    run_config = json.loads((run_dir / "config.json").read_text())
    training.update(
        recipe={k: run_config[k] for k in RECIPE_KEYS if k in run_config},
        data="gmcnn corpus (src/gmcnn/data/corpus_manifest.csv), train split",
        hardware=f"{platform.machine()} CPU, 2 cores, torch bf16 autocast",
        note=note,
    )  # fmt: skip
    return export_generator(generator, dest, training=training)


if __name__ == "__main__":
    main()
