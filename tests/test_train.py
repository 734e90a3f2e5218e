"""``gmcnn train`` end to end through the CLI (tiny preset, both stages): outputs, resume equivalence, NaN stop,
errors, the lr schedule, and kills at any instant (SIGKILL, then ``--resume``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from gmcnn.cli import main
from gmcnn.models.vgg import VGG19Features
from gmcnn.training import steps
from gmcnn.training.config import TrainConfig
from gmcnn.training.state import latest_checkpoint, list_checkpoints, load_checkpoint
from gmcnn.training.train import lr_at
from gmcnn.weights.format import load_generator


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    (root / "sub").mkdir()
    for i in range(10):
        h, w = int(rng.integers(40, 80)), int(rng.integers(40, 80))
        # Smooth gradients + noise: something a generator can learn a little from in a few steps.
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 30 * (i % 8))], -1)
        img = np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / ("sub" if i % 2 else ".") / f"img{i}.png")
    (root / "broken.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg19.safetensors"
    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in VGG19Features().state_dict().items()}, str(path))
    return path


def train_cli(corpus: Path, run_dir: Path, vgg: Path, *extra: str) -> int:
    args = ["train", "--data", str(corpus), "--run-dir", str(run_dir), "--preset", "tiny",
            "--vgg-weights", str(vgg), "--set", "val_fraction=0.3", *extra]  # fmt: skip
    return main(args)


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.filterwarnings("ignore:skipped")
def test_smooth_fill_recipe_with_l2_hole_loss(corpus: Path, vgg_weights: Path, tmp_path: Path) -> None:
    """The embedded model's recipe: push-pull pre-fill + correction, plain L2 in the hole; the export keeps it."""
    run = tmp_path / "run"
    assert train_cli(corpus, run, vgg_weights, "--set", "fill=smooth", "--set", "hole_loss=l2") == 0
    metrics = read_metrics(run)
    assert all("hole_l1" not in m for m in metrics) and any("hole_l2" in m for m in metrics)
    assert any(np.isfinite(m.get("val_hole_psnr", np.nan)) for m in metrics)
    generator, _ = load_generator(run / "export")
    assert generator.config.fill == "smooth"


@pytest.mark.filterwarnings("ignore:skipped")
def test_live_mrf_recipe_trains_and_logs_the_patch_term(corpus: Path, vgg_weights: Path,
                                                                       tmp_path: Path) -> None:  # fmt: skip
    """init=scaled + patch ID-MRF (the cpu_live_mrf recipe's two new keys) through the real training loop."""
    run = tmp_path / "run"
    args = ("--set", "fill=smooth", "--set", "hole_loss=l2", "--set", "init=scaled", "--set", "patch_mrf_weight=0.01")
    assert train_cli(corpus, run, vgg_weights, *args) == 0
    assert any(m.get("patch_mrf", 0) > 0 for m in read_metrics(run))
    assert json.loads((run / "config.json").read_text())["init"] == "scaled"


@pytest.mark.filterwarnings("ignore:skipped")
def test_tiny_run_both_stages(corpus: Path, vgg_weights: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train_cli(corpus, run, vgg_weights) == 0
    metrics = read_metrics(run)
    stages = {m["stage"] for m in metrics}
    assert stages == {"pretrain", "finetune"}
    finetune = [m for m in metrics if m["stage"] == "finetune" and "g_loss" in m]
    # Every loss term ran in stage 2.
    assert {"hole_l1", "known_l1", "idmrf", "g_adv", "d_loss", "gp"} <= set(finetune[-1])
    assert any("val_psnr" in m and np.isfinite(m["val_psnr"]) for m in metrics)
    assert [s for s, _ in list_checkpoints(run)] == [2, 4]  # keep_last = 2
    assert len(list((run / "samples").glob("*.png"))) == 2
    grid = Image.open(sorted((run / "samples").glob("*.png"))[-1])
    assert grid.size == (4 * 32, 4 * 32)  # 4 columns x up to 4 rows of 32 px
    generator, meta = load_generator(run / "export")
    assert meta["training"]["steps"] == 4 and meta["training"]["stage"] == "finetune"
    assert meta["training"]["image_size"] == 32 and meta["training"]["mask_type"] == "rect"
    state = load_checkpoint(latest_checkpoint(run))
    for key, value in generator.state_dict().items():
        torch.testing.assert_close(state["generator"][key], value, rtol=0, atol=0)
    assert state["critic"] and state["opt_critic"]["state"]  # D and its optimiser are saved
    # The run directory loads as a model.
    from gmcnn import Inpainter

    inpainter = Inpainter.from_pretrained(run, device="cpu")
    image = np.full((40, 48, 3), 128, np.uint8)
    mask = np.zeros((40, 48), bool)
    mask[10:20, 10:30] = True
    out = inpainter(image, mask)
    assert out.shape == image.shape and np.array_equal(out[~mask], image[~mask])


@pytest.mark.filterwarnings("ignore:skipped")
def test_resume_equals_uninterrupted(corpus: Path, vgg_weights: Path, tmp_path: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_cli(corpus, straight, vgg_weights, "--max-steps", "4") == 0
    assert train_cli(corpus, split, vgg_weights, "--max-steps", "2") == 0
    assert train_cli(corpus, split, vgg_weights, "--resume", "--max-steps", "4") == 0
    a, b = load_checkpoint(latest_checkpoint(straight)), load_checkpoint(latest_checkpoint(split))
    assert a["step"] == b["step"] == 4 and a["batches_seen"] == b["batches_seen"]
    for part in ("generator", "critic"):
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=0, msg=f"{part}.{key}")
    # The resumed run's metrics continue the first run's without duplicates.
    steps_logged = [m["step"] for m in read_metrics(split) if "g_loss" in m]
    assert steps_logged == [1, 2, 3, 4]


@pytest.mark.filterwarnings("ignore:skipped")
def test_weight_average_is_exported_and_resumes_exactly(corpus: Path, vgg_weights: Path, tmp_path: Path) -> None:
    ema = ("--set", "ema_decay=0.5")
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train_cli(corpus, straight, vgg_weights, *ema, "--max-steps", "4") == 0
    assert train_cli(corpus, split, vgg_weights, *ema, "--max-steps", "2") == 0
    assert train_cli(corpus, split, vgg_weights, "--resume", "--max-steps", "4") == 0
    a, b = load_checkpoint(latest_checkpoint(straight)), load_checkpoint(latest_checkpoint(split))
    exported, _ = load_generator(straight / "export")
    for key, value in a["generator_ema"].items():
        torch.testing.assert_close(value, b["generator_ema"][key], rtol=0, atol=0, msg=key)
        torch.testing.assert_close(exported.state_dict()[key], value, rtol=0, atol=0, msg=key)
    # The average lags the raw weights: after 4 steps at decay 0.5 they differ.
    assert any(not torch.equal(a["generator"][k], a["generator_ema"][k]) for k in a["generator"])


@pytest.mark.filterwarnings("ignore:skipped")
def test_existing_run_needs_resume(corpus: Path, vgg_weights: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run = tmp_path / "run"
    assert train_cli(corpus, run, vgg_weights, "--max-steps", "2") == 0
    assert train_cli(corpus, run, vgg_weights, "--max-steps", "2") == 2
    assert "--resume" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:skipped")
def test_nan_loss_stops_with_step_and_checkpoint(corpus: Path, vgg_weights: Path, tmp_path: Path, monkeypatch,
                                                 capsys) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    run = tmp_path / "run"
    real = steps.known_l1
    calls = {"n": 0}

    def poisoned(pred, target, mask):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        value = real(pred, target, mask)
        return value * float("nan") if calls["n"] == 3 else value

    monkeypatch.setattr(steps, "known_l1", poisoned)
    assert train_cli(corpus, run, vgg_weights) == 1
    err = capsys.readouterr().err
    assert "not finite at step 3" in err and "step_00000002.pt" in err
    assert [s for s, _ in list_checkpoints(run)] == [2]


def test_unknown_key_lists_valid_keys(corpus: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["train", "--data", str(corpus), "--run-dir", str(tmp_path / "r"), "--preset", "tiny",
                 "--set", "learning_rate=1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "learning_rate" in err and "batch_size" in err


@pytest.mark.filterwarnings("ignore:skipped")
def test_missing_vgg_weights_explains(corpus: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["train", "--data", str(corpus), "--run-dir", str(tmp_path / "r"), "--preset", "tiny"])
    err = capsys.readouterr().err
    assert code == 2 and "--vgg-weights" in err and "idmrf_weight=0" in err


def test_lr_schedule_warmup_cosine_restarts_per_stage() -> None:
    cfg = TrainConfig(lr=1.0, lr_schedule="cosine", warmup_steps=10, min_lr_ratio=0.1, pretrain_steps=100,
                      max_steps=200)  # fmt: skip
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1, abs=1e-3)
    assert lr_at(100, cfg) == pytest.approx(0.1)  # warmup again at the stage switch
    assert lr_at(150, cfg) < lr_at(120, cfg)


def _leftover_temps(run: Path) -> list[Path]:
    """What a kill inside a write leaves: checkpoint temp files, half-written export folders, exports renamed into
    place but never linked (newer than the linked one), temp links."""
    found = list((run / "checkpoints").glob(".step_*.tmp")) + list(run.glob(".export.*.tmp"))
    exports = run / "exports"
    if exports.is_dir():
        live = (run / "export").resolve().name if (run / "export").is_symlink() else ""
        found += [p for p in exports.iterdir() if p.name.startswith(".") or p.name > live]
    return found


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:skipped")
def test_sigkill_at_random_instants_leaves_a_loadable_run_that_resumes_exactly(corpus: Path, tmp_path: Path) -> None:
    """20 SIGKILLs of a real ``gmcnn train`` process, each resumed with ``--resume`` by the next one. Every step
    writes a checkpoint and publishes an export, so kills land in those writes too (counted by what they leave).
    After every kill the run directory loads as a model (once it has an export) and its checkpoint reads; at the
    end the resumed run equals an uninterrupted one bit for bit."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from gmcnn import Inpainter

    args = ["--data", str(corpus), "--preset", "tiny", "--set", "idmrf_weight=0", "--set", "val_fraction=0.3",
            "--set", "pretrain_steps=50", "--set", "max_steps=100", "--set", "checkpoint_every=1",
            "--set", "keep_last=2", "--set", "val_every=7", "--set", "sample_every=7",
            "--set", "threads=1"]  # fmt: skip
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert main(["train", "--run-dir", str(straight), *args]) == 0
    rng = np.random.default_rng(0)
    image = np.full((40, 48, 3), 128, np.uint8)
    hole = np.zeros((40, 48), bool)
    hole[10:20, 10:30] = True
    had_export, in_writes, steps_at_kill = False, 0, []
    for attempt in range(20):
        before = list_checkpoints(killed)[-1][0] if list_checkpoints(killed) else -1
        log = tmp_path / f"attempt{attempt}.log"
        with log.open("w") as out:
            cmd = [sys.executable, "-m", "gmcnn", "train", "--run-dir", str(killed), "--resume", *args]
            env = {**os.environ, "OMP_NUM_THREADS": "1"}
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            if attempt % 5 == 4:  # some kills during start-up (imports, reading the checkpoint, the first step)
                time.sleep(rng.uniform(0.0, 4.0))
            else:  # the rest once this process has trained a step: inside steps, checkpoints and exports
                deadline = time.monotonic() + 300
                while proc.poll() is None and time.monotonic() < deadline:
                    found = list_checkpoints(killed)
                    if found and found[-1][0] > before:
                        break
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 0.6))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"attempt {attempt} ended by itself:\n{log.read_text()[-3000:]}"
        in_writes += bool(_leftover_temps(killed))
        found = list_checkpoints(killed)
        steps_at_kill.append(found[-1][0] if found else None)
        if found:
            assert load_checkpoint(found[-1][1])["step"] == found[-1][0]
        if (killed / "export").exists():
            out = Inpainter.from_pretrained(killed, device="cpu")(image, hole)  # sha256-checked pair, old or new
            assert np.array_equal(out[~hole], image[~hole])
            had_export = True
        else:
            assert not had_export, f"attempt {attempt}: the run directory lost its export"
    print(f"kills: {len(steps_at_kill)}, inside a write: {in_writes}, latest checkpoint at each: {steps_at_kill}")
    assert had_export and steps_at_kill[-1] is not None and steps_at_kill[-1] < 100  # the kills really interrupted it
    assert main(["train", "--run-dir", str(killed), "--resume", *args]) == 0
    a, b = load_checkpoint(latest_checkpoint(straight)), load_checkpoint(latest_checkpoint(killed))
    assert a["step"] == b["step"] == 100 and a["batches_seen"] == b["batches_seen"]
    for part in ("generator", "critic", "generator_ema"):
        for key in a.get(part, {}):
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=0, msg=f"{part}.{key}")
    assert _leftover_temps(killed) == []  # the last resume cleaned up


def _killing_train_step(monkeypatch, at_calls: set[int]):  # type: ignore[no-untyped-def]
    """Patch the loop's train_step to throw the fusion into ELU's flat tail right after the given calls."""
    from gmcnn.training import train as train_module

    real, calls = train_module.train_step, {"n": 0}

    def step(m, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(m, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] in at_calls:
            with torch.no_grad():
                m.generator.decoding_layers[0].bias.fill_(-100.0)  # what a loss spike did to the runs that died
        return out

    monkeypatch.setattr(train_module, "train_step", step)


@pytest.mark.filterwarnings("ignore:skipped")
def test_a_forced_saturation_rolls_back_to_the_last_healthy_checkpoint(corpus: Path, vgg_weights: Path,
                                                                      tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    run = tmp_path / "run"
    _killing_train_step(monkeypatch, {5})  # the 5th step kills; validation at step 6 sees it
    # Checkpoints every step, only the newest kept: step 5's (dead) would push out step 4's unless it is kept as the
    # roll-back target.
    health = ("--set", "rollback_saturation=0.5", "--set", "max_steps=8", "--set", "pretrain_steps=8",
              "--set", "checkpoint_every=1", "--set", "keep_last=1", "--set", "lr=1e-3",
              "--set", "idmrf_weight=0")  # fmt: skip
    assert train_cli(corpus, run, vgg_weights, *health) == 0
    metrics = read_metrics(run)
    events = [m for m in metrics if m.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["step"] == 4 and events[0]["from_step"] == 6
    assert events[0]["fusion_saturated"] == 1.0 and events[0]["lr_scale"] == 0.5
    after = [m for m in metrics[metrics.index(events[0]) :] if "lr" in m]
    assert after and all(m["lr"] == pytest.approx(5e-4) for m in after)  # the generator's lr halved
    val = [m["val_fusion_saturated"] for m in metrics if "val_fusion_saturated" in m]
    assert val[-1] < 0.5  # alive again at the end
    state = load_checkpoint(latest_checkpoint(run))
    assert state["step"] == 8 and state["health"]["rollbacks"] == 1 and state["health"]["lr_scale"] == 0.5
    assert (state["generator"]["decoding_layers.0.bias"] > -50).all()


@pytest.mark.filterwarnings("ignore:skipped")
def test_a_run_that_keeps_dying_stops_after_max_rollbacks(corpus: Path, vgg_weights: Path, tmp_path: Path,
                                                          monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    _killing_train_step(monkeypatch, {3, 5})
    health = ("--set", "rollback_saturation=0.5", "--set", "max_rollbacks=1", "--set", "max_steps=8",
              "--set", "pretrain_steps=8", "--set", "idmrf_weight=0")  # fmt: skip
    assert train_cli(corpus, tmp_path / "run", vgg_weights, *health) == 1
    err = capsys.readouterr().err
    assert "stopped: at step" in err and "after 1 roll-backs" in err and "fusion_act=leaky_relu" in err
