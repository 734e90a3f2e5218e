"""End-to-end training through the CLI (tiny preset, both stages), resume equivalence, NaN stop, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from gmcnn.cli import main
from gmcnn.errors import UserError
from gmcnn.models.vgg import VGG19Features
from gmcnn.training import steps
from gmcnn.training.config import TrainConfig, preset_names, resolve_config
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


def test_latest_checkpoint_is_by_step_number_and_ignores_partial_files(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for step, mtime in ((9, 300), (10, 100), (100, 200)):  # newest file on disk is not the latest step
        path = folder / f"step_{step:08d}.pt"
        path.write_bytes(b"x")
        os.utime(path, (mtime, mtime))
    (folder / ".step_00000200.pt.abc.tmp").write_bytes(b"half-written")  # a SIGKILLed atomic write
    assert latest_checkpoint(tmp_path) == folder / "step_00000100.pt"
    assert [s for s, _ in list_checkpoints(tmp_path)] == [9, 10, 100]


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
    with pytest.raises(UserError, match="valid keys"):
        TrainConfig.from_dict({"nope": 1})


@pytest.mark.filterwarnings("ignore:skipped")
def test_missing_vgg_weights_explains(corpus: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["train", "--data", str(corpus), "--run-dir", str(tmp_path / "r"), "--preset", "tiny"])
    err = capsys.readouterr().err
    assert code == 2 and "--vgg-weights" in err and "idmrf_weight=0" in err


def test_presets_resolve_and_overrides_win() -> None:
    assert {"paper_256_rect", "paper_256_free", "cpu_small", "tiny"} <= set(preset_names())
    for name in preset_names():
        resolve_config(name, {})
    cfg = resolve_config("cpu_small", {"cnum": "32", "bf16": "false", "lr": "1e-3", "max_steps": "1_000"})
    assert (cfg.cnum, cfg.bf16, cfg.lr, cfg.max_steps) == (32, False, 1e-3, 1000)
    assert resolve_config("paper_256_free", {}).local_critic == "patch"
    with pytest.raises(UserError, match="expects a int"):
        resolve_config("tiny", {"cnum": "abc"})


def test_lr_schedule_warmup_cosine_restarts_per_stage() -> None:
    cfg = TrainConfig(lr=1.0, lr_schedule="cosine", warmup_steps=10, min_lr_ratio=0.1, pretrain_steps=100,
                      max_steps=200)  # fmt: skip
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1, abs=1e-3)
    assert lr_at(100, cfg) == pytest.approx(0.1)  # warmup again at the stage switch
    assert lr_at(150, cfg) < lr_at(120, cfg)


@pytest.mark.parametrize("gan_loss", ["wgan_gp", "hinge"])
def test_every_parameter_gets_a_gradient_in_the_steps(gan_loss: str) -> None:
    from gmcnn.data.datasets import Sample
    from gmcnn.models.discriminator import Discriminator
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    torch.manual_seed(0)
    cfg = resolve_config("tiny", {"gan_loss": gan_loss, "spectral_norm": str(gan_loss == "hinge")})
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    d = Discriminator(image_size=32, width=4, local="crop", spectral_norm=cfg.spectral_norm)
    vgg = VGG19Features()
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 4:20] = 1
    batch = Sample(image, mask, torch.tensor([[8, 4, 16, 16]] * 2))

    loss, logs = steps.generator_step(g, batch, cfg, critic=d, vgg=vgg)
    loss.backward()
    assert {"hole_l1", "known_l1", "idmrf", "g_adv", "g_loss"} <= set(logs)
    for name, p in g.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in d.parameters()) and all(p.requires_grad for p in d.parameters())
    assert all(p.grad is None for p in vgg.parameters())

    g.zero_grad(set_to_none=True)
    loss, logs = steps.discriminator_step(d, g, batch, cfg)
    loss.backward()
    assert ("gp" in logs) == (gan_loss == "wgan_gp")
    for name, p in d.named_parameters():
        assert p.grad is not None, name
        if name.endswith("linear.bias"):
            # The output bias cancels between real and fake: d/db = -1 + 1 = 0 for WGAN always, and for hinge
            # while all scores are inside the margin (as at initialisation).
            continue
        assert p.grad.abs().sum() > 0, name
    assert all(p.grad is None for p in g.parameters())  # the generator runs without gradients here


def test_bf16_autocast_step_runs_and_stays_close_to_fp32() -> None:
    from gmcnn.data.datasets import Sample
    from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

    torch.manual_seed(0)
    g = GMCNN(GMCNNConfig(cnum=4, pad_mode="zeros"))
    mask = torch.zeros(2, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    batch = Sample(torch.rand(2, 3, 32, 32) * 2 - 1, mask, torch.tensor([[8, 8, 16, 16]] * 2))
    fp32, _ = steps.generator_step(g, batch, resolve_config("tiny", {}))
    bf16, _ = steps.generator_step(g, batch, resolve_config("tiny", {"bf16": "true"}))
    assert bf16.dtype == torch.float32
    assert abs(bf16.item() - fp32.item()) < 0.02 * fp32.item()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:skipped")
def test_sigkill_then_resume_matches_uninterrupted(corpus: Path, vgg_weights: Path, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["--data", str(corpus), "--preset", "tiny", "--vgg-weights", str(vgg_weights), "--set", "val_fraction=0.3",
            "--set", "pretrain_steps=6", "--set", "max_steps=10", "--set", "checkpoint_every=3",
            "--set", "val_every=5", "--set", "sample_every=5"]  # fmt: skip
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert main(["train", "--run-dir", str(straight), *args]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "gmcnn", "train", "--run-dir", str(killed), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not list_checkpoints(killed) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list_checkpoints(killed), "the run ended before its first checkpoint"
    assert main(["train", "--run-dir", str(killed), "--resume", *args]) == 0
    a, b = load_checkpoint(latest_checkpoint(straight)), load_checkpoint(latest_checkpoint(killed))
    assert a["step"] == b["step"] == 10
    for part in ("generator", "critic"):
        for key in a[part]:
            torch.testing.assert_close(a[part][key], b[part][key], rtol=0, atol=0, msg=f"{part}.{key}")
