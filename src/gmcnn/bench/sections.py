"""The benchmark's sections: the dense-conv limit, fill latency, batch throughput and training steps."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from gmcnn.bench.inputs import stroke_hole, test_image
from gmcnn.bench.measure import Row, measure, no_sync, sync_for
from gmcnn.evaluation.baselines import get_baseline
from gmcnn.inpainting.options import FillResult
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig

DEFAULT_MODELS: Final = "default,full"

CONV_SHAPE: Final = (128, 128, 128)  # channels in = out, height, width of the reference convolution

TRAIN_SIZE: Final = 256


def conv_limit(device: torch.device, *, repeats: int, budget: float) -> Row:
    """GFLOP/s of a dense 3x3 conv (the reference every model row is compared with)."""
    c, h, w = CONV_SHAPE
    x = torch.randn(1, c, h, w, device=device)
    weight = torch.randn(c, c, 3, 3, device=device)

    def run() -> None:
        with torch.inference_mode():
            torch.nn.functional.conv2d(x, weight, padding=1)

    timing = measure(run, repeats=max(repeats, 5), budget=budget, sync=sync_for(device))
    return Row("conv", "conv2d 3x3", f"{c}->{c} ch, {h}x{w}, fp32", timing=timing, gflop=2 * 9 * c * c * h * w / 1e9)


@dataclass(frozen=True)
class BenchModel:
    label: str
    inpainter: Any  # gmcnn.Inpainter


def load_models(spec: str, *, device: str, runtime: str, precision: str) -> list[BenchModel]:
    """``default`` / ``full`` / any name or path ``Inpainter.from_pretrained`` accepts, comma-separated."""
    from gmcnn.inpainting.pipeline import Inpainter

    models = []
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        if name == "full":
            torch.manual_seed(0)
            generator = GMCNN(GMCNNConfig())
            inp = Inpainter.from_generator(generator, device=device, runtime=runtime, precision=precision, name="full")
            models.append(BenchModel("full (cnum 32)", inp))
        else:
            inp = Inpainter.from_pretrained(name, device=device, runtime=runtime, precision=precision)
            models.append(BenchModel(f"{Path(name).name} (cnum {inp.generator.config.cnum})", inp))
    return models


def _padded(size: int, cfg: GMCNNConfig) -> int:
    m = cfg.size_multiple
    return max(cfg.min_size, -(-size // m) * m)


def _free_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def eager_forward(model: BenchModel, batch: int, height: int, width: int) -> tuple[Callable[[], object], float]:
    """A closure running the plain fp32 ``GMCNN.forward`` on zero-padded inputs, and its GFLOP per call."""
    generator = model.inpainter.generator
    cfg = generator.config
    hp, wp = _padded(height, cfg), _padded(width, cfg)
    device = next(generator.parameters()).device
    image = torch.rand(batch, 3, hp, wp, device=device) * 2 - 1
    mask = torch.zeros(batch, 1, hp, wp, device=device)
    mask[..., hp // 4 : hp // 2, wp // 4 : wp // 2] = 1.0

    def run() -> None:
        with torch.inference_mode():
            generator(image, mask)

    return run, batch * GMCNN.flops(hp, wp, cfg.cnum) / 1e9


def _fill_into(results: list[FillResult], inpainter: Any, image: np.ndarray, hole: np.ndarray) -> None:
    results.append(inpainter.fill(image, hole))


def latency_rows(
    models: Sequence[BenchModel],
    baselines: Sequence[str],
    sizes: Sequence[tuple[str, int, int]],
    *,
    conv_gflops: float,
    repeats: int,
    budget: float,
    seed: int,
    progress: Callable[[str], None],
) -> list[Row]:
    rows = []
    for label, h, w in sizes:
        image = test_image(h, w, np.random.default_rng(seed))
        hole = stroke_hole(h, w, seed)
        note = f"hole {hole.mean():.1%}"
        for model in models:
            inp = model.inpainter
            progress(f"{label}: {model.label} Inpainter")
            last: list[FillResult] = []  # the measured calls' own result: what ran
            call = functools.partial(_fill_into, last, inp, image, hole)
            timing = measure(call, repeats=repeats, budget=budget, sync=no_sync)
            info = last[-1].info()
            what = f"Inpainter {info['strategy']} ({info['windows']} win), {info['runtime']} {info['precision']}"
            rows.append(Row("latency", model.label, what, label, timing, note=note))
            run, gflop = eager_forward(model, 1, h, w)
            cfg = inp.generator.config
            need = _padded(h, cfg) * _padded(w, cfg) * 4 * 16 * cfg.cnum  # widest activations, a few alive at once
            free = _free_memory_bytes()
            estimate = gflop / conv_gflops
            why = ""
            if estimate > budget:
                why = f"skipped: ~{estimate:.0f} s at the conv limit > {budget:g} s budget"
            elif free is not None and need > free / 2:
                why = f"skipped: needs ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free"
            if why:
                rows.append(Row("latency", model.label, "eager fp32 forward, full image", label, gflop=gflop, note=why))
                continue
            progress(f"{label}: {model.label} eager")
            timing = measure(run, repeats=repeats, budget=budget, sync=sync_for(inp.runner.device))
            rows.append(Row("latency", model.label, "eager fp32 forward, full image", label, timing, gflop=gflop))
        for name in baselines:
            fill = get_baseline(name)
            progress(f"{label}: {name}")
            timing = measure(functools.partial(fill, image, hole), repeats=repeats, budget=budget, sync=no_sync)
            rows.append(Row("latency", name, "baseline", label, timing, note=note))
    return rows


def batch_rows(models: Sequence[BenchModel], *, batch: int, repeats: int, budget: float) -> list[Row]:
    rows = []
    for model in models:
        run, gflop = eager_forward(model, batch, TRAIN_SIZE, TRAIN_SIZE)
        timing = measure(run, repeats=repeats, budget=budget, sync=sync_for(model.inpainter.runner.device))
        what = f"eager fp32 forward, batch {batch}"
        rows.append(Row("batch", model.label, what, f"{TRAIN_SIZE}x{TRAIN_SIZE}", timing, gflop=gflop, images=batch))
    return rows


def train_steps(model: BenchModel, *, batch: int, rng: np.random.Generator) -> tuple[Callable[[], None], ...]:
    """Closures running one stage-1 and one stage-2 step on a trainable copy of the model's generator.

    The TrainConfig defaults are the paper recipe (WGAN-GP, crop critic, 5 critic updates per generator update).
    """
    from gmcnn.data.datasets import Sample
    from gmcnn.data.masks import RectMask
    from gmcnn.models.discriminator import Discriminator
    from gmcnn.training.config import TrainConfig
    from gmcnn.training.steps import discriminator_step, generator_step

    source = model.inpainter.generator
    device = next(source.parameters()).device
    g = copy.deepcopy(source).train()
    cfg = TrainConfig(image_size=TRAIN_SIZE, cnum=g.config.cnum, pad_mode=g.config.pad_mode, batch_size=batch)
    masks, boxes = zip(*(RectMask()(TRAIN_SIZE, TRAIN_SIZE, rng) for _ in range(batch)), strict=True)
    image = torch.rand(batch, 3, TRAIN_SIZE, TRAIN_SIZE, device=device) * 2 - 1  # (B, 3, H, W) in [-1, 1]
    mask = torch.from_numpy(np.stack(masks).astype(np.float32))[:, None].to(device)  # (B, 1, H, W), 1 = hole
    sample = Sample(image, mask, torch.tensor(boxes, device=device))
    d = Discriminator(image_size=TRAIN_SIZE, width=cfg.d_cnum, local=cfg.local_critic).to(device).train()
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))

    def update(loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def stage1() -> None:
        update(generator_step(g, sample, cfg)[0], opt_g)

    def stage2() -> None:
        for _ in range(cfg.d_steps):
            update(discriminator_step(d, g, sample, cfg)[0], opt_d)
        update(generator_step(g, sample, cfg, critic=d)[0], opt_g)

    return stage1, stage2


def train_rows(models: Sequence[BenchModel], *, batch: int, repeats: int, budget: float) -> list[Row]:
    """Images/s of a stage-1 and a stage-2 training step at 256x256 for each model's architecture."""
    from gmcnn.training.config import TrainConfig

    recipe = TrainConfig()
    rows = []
    rng = np.random.default_rng(0)
    size = f"{TRAIN_SIZE}x{TRAIN_SIZE}"
    for model in models:
        stage1, stage2 = train_steps(model, batch=batch, rng=rng)
        sync = sync_for(model.inpainter.runner.device)
        for fn, what in (
            (stage1, f"stage 1: G step (reconstruction), batch {batch}"),
            (stage2, f"stage 2: {recipe.d_steps} D steps ({recipe.gan_loss}) + G step (+adversarial), batch {batch}"),
        ):
            timing = measure(fn, repeats=repeats, budget=budget, sync=sync)
            rows.append(Row("train", model.label, what, size, timing, images=batch, note="no ID-MRF"))
    return rows


def run_all(
    models: Sequence[BenchModel],
    baselines: Sequence[str],
    sizes: Sequence[tuple[str, int, int]],
    *,
    repeats: int,
    budget: float,
    batch: int,
    seed: int,
    train: bool,
    progress: Callable[[str], None],
) -> tuple[list[Row], torch.device]:
    """Every section in order (the conv limit first: the model rows are quoted against it); the rows and the
    device they ran on."""
    device = models[0].inpainter.runner.device if models else torch.device("cpu")
    progress("dense-conv limit")
    rows = [conv_limit(device, repeats=repeats, budget=budget)]
    conv_gflops = rows[0].gflops() or 1.0
    rows += latency_rows(
        models, baselines, sizes, conv_gflops=conv_gflops, repeats=repeats, budget=budget, seed=seed,
        progress=progress,
    )  # fmt: skip
    progress("batch throughput")
    rows += batch_rows(models, batch=batch, repeats=repeats, budget=budget)
    if train:
        progress("training steps")
        rows += train_rows(models, batch=batch, repeats=repeats, budget=budget)
    return rows, device
