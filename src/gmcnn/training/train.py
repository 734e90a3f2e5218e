"""``gmcnn train``: the training loop, top to bottom. Runs unchanged as one process or under torchrun (DDP).

    gmcnn train --data DIR --run-dir RUN --preset cpu_small [--max-steps N] [--resume] [--set key=value ...]
    torchrun --nproc-per-node 2 -m gmcnn train --data DIR --run-dir RUN --preset paper_256_rect

Two stages (a step = one generator update):

* ``pretrain`` (step < ``pretrain_steps``): reconstruction losses only;
* ``finetune``: ``d_steps`` critic updates (each on a fresh batch), then one generator update (on the last of
  those batches) with reconstruction + ID-MRF + adversarial terms. The generator simply continues from stage 1.

Run directory: ``checkpoints/step_*.pt`` (resumable state), ``export/`` (the latest generator, loadable with
``Inpainter.from_pretrained(run_dir)``), ``metrics.jsonl`` (scalars; TensorBoard events too when installed),
``samples/step_*.png`` (masked input | prediction | composite | target), ``config.json``.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from gmcnn.data.datasets import (
    CorpusDataset,
    CropDataset,
    EpochStream,
    ImageFileDataset,
    ResumableSampler,
    Sample,
    find_images,
    split_paths,
)
from gmcnn.data.masks import build_mask
from gmcnn.errors import UserError
from gmcnn.losses.idmrf import IDMRF_TAPS
from gmcnn.models.discriminator import Discriminator
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.models.init import scaled_init_
from gmcnn.models.state_dict import load_state_strict
from gmcnn.models.vgg import VGG19Features
from gmcnn.training import distributed
from gmcnn.training.config import TrainConfig
from gmcnn.training.health import dead_warning, fusion_saturation
from gmcnn.training.state import (
    capture_rng,
    latest_checkpoint,
    load_checkpoint,
    remove_stale_temps,
    restore_rng,
    save_checkpoint,
)
from gmcnn.training.steps import discriminator_step, generator_step
from gmcnn.weights.format import export_generator, load_generator

SAMPLE_ROWS = 4


# ---------------------------------------------------------------------------------------------- helpers


def resume_state(run_dir: Path, *, resume: bool, info: distributed.DistInfo) -> dict[str, Any] | None:
    """The checkpoint every rank continues from (None = a new run); call it once the job is joined.

    Rank 0 alone reads the run directory and broadcasts the state, so the other ranks need no access to it and
    all of them continue from the same checkpoint. After an elastic restart torchrun reruns the same command
    line, so a restart resumes even without ``resume``. Errors (checkpoints without ``resume``, an unreadable
    checkpoint) are raised as :class:`UserError` on every rank.
    """
    resume = resume or distributed.restarted(info)
    outcome = distributed.broadcast_object(_read_resume_state(run_dir, resume=resume) if info.is_main else None, info)
    if isinstance(outcome, str):
        raise UserError(outcome)
    return outcome


def _read_resume_state(run_dir: Path, *, resume: bool) -> dict[str, Any] | str | None:
    """Rank 0: the checkpoint to continue from, None for a new run, or the error message for every rank."""
    remove_stale_temps(run_dir)  # left by a process killed while writing; never read as checkpoints
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        return None
    if not resume:
        return f"{run_dir} already holds checkpoints; pass --resume to continue or choose a new --run-dir"
    try:
        state = load_checkpoint(checkpoint)
    except UserError as exc:
        return str(exc)
    print(f"gmcnn train: resuming from {checkpoint} (step {state['step']})", flush=True)
    return state


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Generator learning rate: linear warmup then constant or cosine, restarted at the stage switch."""
    start, end = (0, cfg.pretrain_steps) if step < cfg.pretrain_steps else (cfg.pretrain_steps, cfg.max_steps)
    t = step - start
    if t < cfg.warmup_steps:
        return cfg.lr * (t + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    progress = min(1.0, (t - cfg.warmup_steps) / max(1, end - start - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def quiet_loader(dataset: CropDataset, **kwargs: Any) -> DataLoader[Sample]:
    """A DataLoader with its own torch.Generator: creating its iterator must not draw from the global RNG
    (it would, for the workers' base seed), or a resumed run would diverge from an uninterrupted one. All
    randomness of a sample comes from the dataset's per-sample numpy generator anyway."""
    return DataLoader(dataset, generator=torch.Generator().manual_seed(0), **kwargs)


class BatchStream:
    """Endless batches over epochs, starting after ``batches_seen`` batches (so a resumed run sees the same data)."""

    def __init__(self, dataset: CropDataset, sampler: ResumableSampler, cfg: TrainConfig, *,
                 device: torch.device, batches_seen: int) -> None:  # fmt: skip
        self.dataset, self.sampler, self.cfg, self.device = dataset, sampler, cfg, device
        self.per_epoch = sampler.num_samples // cfg.batch_size
        if self.per_epoch < 1:
            raise UserError(
                f"{sampler.num_samples} training images per process is fewer than batch_size={cfg.batch_size}"
            )
        self.batches_seen = batches_seen
        self._iter: Iterator[Sample] | None = None

    def _start(self) -> Iterator[Sample]:
        epoch, done = divmod(self.batches_seen, self.per_epoch)
        bs = self.cfg.batch_size
        stream = EpochStream(self.sampler, dataset_len=len(self.dataset), per_epoch=self.per_epoch * bs,
                             start_epoch=epoch, skip=done * bs)  # fmt: skip
        loader = quiet_loader(self.dataset, batch_size=bs, sampler=stream, num_workers=self.cfg.num_workers,
                              pin_memory=self.device.type == "cuda")  # fmt: skip
        return iter(loader)

    def __next__(self) -> Sample:
        if self._iter is None:
            self._iter = self._start()  # one loader for the whole run: its workers live as long as it does
        batch = next(self._iter)
        self.batches_seen += 1
        fmt = torch.channels_last if self.cfg.channels_last else torch.contiguous_format
        return Sample(
            batch.image.to(self.device, non_blocking=True, memory_format=fmt),
            batch.mask.to(self.device, non_blocking=True, memory_format=fmt),
            batch.bbox.to(self.device),
        )


def make_datasets(cfg: TrainConfig, rank: int) -> tuple[CropDataset, ImageFileDataset | None]:
    """Training set (random crops, per-rank randomness) and validation set (centre crops, fixed masks).

    ``cfg.data`` may be a corpus built by ``gmcnn corpus build`` (a folder with ``manifest.csv``): training then
    reads its cache, mixing photos and textures by ``cfg.texture_fraction``, and validation defaults to its
    ``val/`` photos. Anything else is an image folder or file list.
    """
    mask, size, scale = build_mask(cfg.mask_type), cfg.image_size, (cfg.crop_scale_min, 1.0)
    if (Path(cfg.data) / "manifest.csv").is_file():
        train_set: CropDataset = CorpusDataset(cfg.data, texture_fraction=cfg.texture_fraction, image_size=size,
                                               mask=mask, seed=cfg.seed, rank=rank, crop_scale=scale)  # fmt: skip
        val_paths = find_images(cfg.val_data or Path(cfg.data) / "val")
    else:
        paths = find_images(cfg.data)
        if cfg.val_data:
            val_paths = find_images(cfg.val_data)
        else:
            paths, val_paths = split_paths(paths, val_fraction=cfg.val_fraction)
        train_set = ImageFileDataset(paths, image_size=size, mask=mask, seed=cfg.seed, rank=rank, crop_scale=scale)
    val_set = None
    if val_paths:
        val_paths = sorted(val_paths)[: cfg.val_images]
        # Seed and rank fixed: every evaluation (and every run with this seed) uses the same masks.
        val_set = ImageFileDataset(val_paths, image_size=size, mask=mask, seed=cfg.seed + 1, augment=False)
    return train_set, val_set


def require_vgg(cfg: TrainConfig) -> VGG19Features | None:
    """The frozen VGG for ID-MRF, or None when the run never uses it; stops with a how-to when it is missing."""
    if cfg.idmrf_weight <= 0 or cfg.max_steps <= cfg.pretrain_steps:
        return None
    if not cfg.vgg_weights:
        raise UserError(
            "the ID-MRF loss needs VGG19 weights: pass --vgg-weights PATH (a torchvision vgg19 state dict saved as "
            ".pth or .safetensors; nothing is downloaded) or disable it with --set idmrf_weight=0"
        )
    taps = tuple(IDMRF_TAPS[cfg.idmrf_taps])
    return VGG19Features.from_file(cfg.vgg_weights, taps=taps, input_norm=cfg.vgg_input)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> uint8 (B, H, W, 3), rounded."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def predict(generator: GMCNN, batch: Sample, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    image, mask, _ = batch
    with torch.autocast(device_type=image.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        pred = generator(image, mask).float()
    return pred, pred * mask + image * (1 - mask)


def save_samples(generator: GMCNN, batch: Sample, cfg: TrainConfig, path: Path) -> None:
    """PNG grid, one row per image: masked input | prediction | composite | target."""
    batch = Sample(*(t[:SAMPLE_ROWS] for t in batch))
    pred, inpainted = predict(generator, batch, cfg)
    image, mask, _ = batch
    masked = image * (1 - mask) + mask  # hole shown white
    columns = [to_uint8(t) for t in (masked, pred, inpainted, image)]
    grid = np.concatenate([np.concatenate(row, axis=1) for row in zip(*columns, strict=True)], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def validate(generator: GMCNN, val_set: ImageFileDataset, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """Mean PSNR / SSIM (MATLAB definitions, whole image) and hole PSNR of the composites over the validation set,
    and the generator's fusion saturation (:mod:`gmcnn.training.health`)."""
    scores: dict[str, list[float]] = defaultdict(list)
    with fusion_saturation(generator) as saturation:
        for batch in quiet_loader(val_set, batch_size=cfg.batch_size):
            batch = Sample(*(t.to(device) for t in batch))
            _, inpainted = predict(generator, batch, cfg)
            holes = (batch.mask[:, 0] > 0.5).cpu().numpy()
            for out, ref, hole in zip(to_uint8(inpainted), to_uint8(batch.image), holes, strict=True):
                for key, value in case_scores(out, ref, hole).items():
                    scores[key].append(value)
    return {**{k: float(np.mean(v)) for k, v in scores.items()}, "val_fusion_saturated": saturation.share}


def case_scores(out: np.ndarray, ref: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """One validation case's metrics (uint8 HxWx3 fill and target, bool hole): what :func:`validate` averages."""
    from gmcnn.evaluation.metrics import psnr, ssim

    return {"val_psnr": psnr(out, ref), "val_ssim": ssim(out, ref), "val_hole_psnr": psnr(out, ref, hole)}


class MetricsLog:
    """Rank-0 scalars: append to ``metrics.jsonl`` and, when installed, TensorBoard."""

    def __init__(self, run_dir: Path, *, resume_step: int | None) -> None:
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            # Drop lines a killed run wrote after its last checkpoint: the resumed run writes them again.
            lines = [ln for ln in self.path.read_text().splitlines() if ln.strip()]
            kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= resume_step]
            self.path.write_text("".join(ln + "\n" for ln in kept))
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb: Any = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:
            self.tb = None

    def write(self, step: int, values: dict[str, Any]) -> None:
        with self.path.open("a") as fh:
            fh.write(json.dumps({"step": step, **values}) + "\n")
        if self.tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float):
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


# ------------------------------------------------------------------------------------------------ the loop


def train(cfg: TrainConfig, run_dir: Path, *, state: dict[str, Any] | None = None, init_from: str | None = None) -> int:
    """Train according to ``cfg`` into ``run_dir``; returns the exit code (0 done, 1 stopped on NaN/inf)."""
    info = distributed.init(cfg.device)
    try:
        return _train(cfg, run_dir, info, state=state, init_from=init_from)
    finally:
        distributed.cleanup()


@dataclass
class Models:
    """Everything that learns in a run: G, D, the frozen VGG, the averaged G, both optimisers, the DDP views.

    Attributes:
        generator: the raw generator (unwrapped; what checkpoints save).
        critic: the discriminator (unwrapped).
        vgg: frozen VGG19 features for ID-MRF, or ``None`` when the loss is off.
        ema: the weight-averaged generator, or ``None`` (``ema_decay == 0``).
        opt_g: the generator's optimiser.
        opt_d: the critic's optimiser.
        g_train: the generator as the steps call it (DDP-wrapped when distributed).
        d_train: the critic as the steps call it (DDP-wrapped when distributed).
    """

    generator: GMCNN
    critic: Discriminator
    vgg: VGG19Features | None
    ema: GMCNN | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    g_train: torch.nn.Module
    d_train: torch.nn.Module

    @property
    def shown(self) -> GMCNN:
        """The generator that gets exported, sampled and validated (the average when there is one)."""
        return self.ema if self.ema is not None else self.generator


def build_models(cfg: TrainConfig, info: distributed.DistInfo) -> tuple[GMCNN, Discriminator, VGG19Features | None]:
    """G, D and the VGG, built from the run's seed in a forked RNG: the same initial weights on every rank, and
    the training RNG does not depend on which models were built (e.g. whether a VGG was needed)."""
    device = info.device
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        generator = GMCNN(GMCNNConfig(cnum=cfg.cnum, pad_mode=cfg.pad_mode, fill=cfg.fill)).to(device)
        if cfg.init == "scaled":
            scaled_init_(generator)
        critic = Discriminator(image_size=cfg.image_size, width=cfg.d_cnum, local=cfg.local_critic,
                               spectral_norm=cfg.spectral_norm, sn_order=cfg.sn_order).to(device)  # fmt: skip
        vgg = require_vgg(cfg)
    generator.to(memory_format=fmt)  # type: ignore[call-overload]  # (torch's stubs lack memory_format)
    critic.to(memory_format=fmt)  # type: ignore[call-overload]
    if vgg is not None:
        vgg.to(device)
    return generator, critic, vgg


def prepare_models(
    cfg: TrainConfig, info: distributed.DistInfo, *, state: dict[str, Any] | None, init_from: str | None
) -> tuple[Models, int, int]:
    """Build (the critic exists from the start so every checkpoint has the same layout), resume or initialise
    from an export, average and wrap; returns the models, the step and the batches seen so far."""
    generator, critic, vgg = build_models(cfg, info)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(critic.parameters(), lr=cfg.d_lr, betas=(cfg.beta1, cfg.beta2))
    # Per-rank training randomness (GP interpolation, ID-MRF subsampling); data randomness is per sample.
    torch.manual_seed(distributed.rank_seed(cfg.seed, info.rank))
    np.random.seed(distributed.rank_seed(cfg.seed, info.rank) % 2**32)
    random.seed(distributed.rank_seed(cfg.seed, info.rank))  # nothing draws from it today; reruns stay equal anyway
    step, batches_seen = 0, 0
    if state is not None:
        load_state_strict(generator, state["generator"], source="checkpoint")
        critic.load_state_dict(state["critic"])
        opt_g.load_state_dict(state["opt_generator"])
        opt_d.load_state_dict(state["opt_critic"])
        step, batches_seen = state["step"], state["batches_seen"]
        if len(state["rng"]) == info.world_size:  # same job shape: continue each rank's random streams exactly
            restore_rng(state["rng"][info.rank])
    elif init_from:
        source, _ = load_generator(init_from)
        if source.config != generator.config:
            raise UserError(f"--init-from {init_from} has {source.config}, the run wants {generator.config}")
        generator.load_state_dict(source.state_dict())
    # The averaged generator smooths out the step-to-step jitter of the weights (at a constant learning rate the
    # raw weights' fills wobble by ~0.5 dB between checkpoints); it is what gets exported, sampled and validated.
    ema: GMCNN | None = None
    if cfg.ema_decay > 0:
        ema = copy.deepcopy(generator).eval().requires_grad_(False)
        if state is not None and "generator_ema" in state:
            ema.load_state_dict(state["generator_ema"])
    # DDP: gradients of G and D are averaged across ranks; steps use the unwrapped modules where noted. The critic
    # keeps broadcast_buffers on: DDP writes rank 0's spectral-norm vectors before every call without bumping
    # autograd's version counters, so critic_calls="separate" (three calls before one backward) works as is and
    # every rank scores with rank 0's vectors (tests/test_ddp.py runs both D-step forms on 2 gloo processes).
    g_train: torch.nn.Module = DDP(generator) if info.distributed else generator
    d_train: torch.nn.Module = DDP(critic) if info.distributed else critic
    return Models(generator, critic, vgg, ema, opt_g, opt_d, g_train, d_train), step, batches_seen


def train_step(
    m: Models, batches: BatchStream, cfg: TrainConfig, info: distributed.DistInfo, *, stage: str
) -> tuple[dict[str, float], str | None]:
    """One generator step (after ``d_steps`` critic steps in the finetune stage); returns the logs and the name
    of the loss that was not finite (``None`` when all were)."""
    logs: dict[str, float] = {}
    if stage == "finetune":
        for _ in range(cfg.d_steps):
            batch = next(batches)
            d_loss, d_logs = discriminator_step(m.d_train, m.generator, batch, cfg)
            if not distributed.all_finite(d_loss, info):
                return d_logs, "critic"
            m.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            m.opt_d.step()
        logs.update(d_logs)
    else:
        batch = next(batches)
    g_loss, g_logs = generator_step(
        m.g_train, batch, cfg, critic=m.critic if stage == "finetune" else None,
        vgg=m.vgg if stage == "finetune" else None,
    )  # fmt: skip
    if not distributed.all_finite(g_loss, info):
        return g_logs, "generator"
    m.opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    m.opt_g.step()
    if m.ema is not None:
        with torch.no_grad():
            for avg, p in zip(m.ema.parameters(), m.generator.parameters(), strict=True):
                avg.lerp_(p, 1.0 - cfg.ema_decay)
    logs.update(g_logs)
    return logs, None


def save_run_state(
    m: Models, cfg: TrainConfig, info: distributed.DistInfo, run_dir: Path, *, step: int, stage: str, batches_seen: int
) -> Path | None:
    """Checkpoint (all ranks take part; rank 0 writes) and re-export the shown generator; returns the path."""
    path = None
    rng = distributed.gather_objects(capture_rng(), info)
    # DDP keeps G and D identical on every rank; a mismatch would be a bug (e.g. the DDP+GAN buffer trap).
    digests = distributed.gather_objects(distributed.weights_digest(m.generator, m.critic), info)
    if len(set(digests)) > 1:
        raise RuntimeError(f"ranks hold different G/D weights at step {step}: {digests}")
    if info.is_main:
        path = save_checkpoint(
            run_dir, step=step, stage=stage, batches_seen=batches_seen, generator=m.generator,
            critic=m.critic, opt_generator=m.opt_g, opt_critic=m.opt_d, rng=rng, config=cfg.to_dict(),
            keep_last=cfg.keep_last, rank_digests=digests, generator_ema=m.ema,
        )  # fmt: skip
        export_generator(m.shown, run_dir / "export", training={
            "image_size": cfg.image_size, "mask_type": cfg.mask_type, "steps": step, "stage": stage,
            "data": cfg.data, "config": cfg.to_dict(),
        })  # fmt: skip
    distributed.barrier(info)
    return path


class Scalars:
    """Running means of the step logs over a logging window, with the window's images/s."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.steps = 0
        self.start = time.perf_counter()

    def add(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.sums[key] += value
        self.steps += 1

    def flush(self, *, images_per_step: int, **extra: Any) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.start
        scalars: dict[str, Any] = {k: v / self.steps for k, v in self.sums.items()}
        scalars.update(extra, images_per_s=self.steps * images_per_step / elapsed)
        self.sums.clear()
        self.steps = 0
        return scalars

    def restart_if_flushed(self) -> None:
        if self.steps == 0:
            self.start = time.perf_counter()  # images/s measures training steps, not the I/O between windows


def _train(cfg: TrainConfig, run_dir: Path, info: distributed.DistInfo, *, state: dict[str, Any] | None,
           init_from: str | None) -> int:  # fmt: skip
    from tqdm import tqdm

    device = info.device
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    train_set, val_set = make_datasets(cfg, info.rank)
    sampler = ResumableSampler(train_set, num_replicas=info.world_size, rank=info.rank, seed=cfg.seed)
    m, step, batches_seen = prepare_models(cfg, info, state=state, init_from=init_from)
    batches = BatchStream(train_set, sampler, cfg, device=device, batches_seen=batches_seen)

    # --- rank-0 bookkeeping
    log = MetricsLog(run_dir, resume_step=step if state else None) if info.is_main else None
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
        if train_set.skipped:
            print(f"gmcnn train: skipped {train_set.skipped} unreadable image(s)")
    fixed_batch = next(iter(quiet_loader(val_set or train_set, batch_size=SAMPLE_ROWS)))  # for sample grids
    fixed_batch = Sample(*(t.to(device) for t in fixed_batch))
    last_checkpoint: Path | None = latest_checkpoint(run_dir) if state else None
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not info.is_main, dynamic_ncols=True, unit="step")
    window = Scalars()

    while step < cfg.max_steps:
        stage = "pretrain" if step < cfg.pretrain_steps else "finetune"
        lr = lr_at(step, cfg)
        for group in m.opt_g.param_groups:
            group["lr"] = lr
        logs, failed = train_step(m, batches, cfg, info, stage=stage)
        if failed is not None:
            return _stop_on_nan(failed, step, logs, last_checkpoint, info, bar)
        step += 1
        window.add(logs)
        if info.is_main:
            bar.update(1)
        # --- logging, samples, validation, checkpoints (rank 0 writes)
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            scalars = window.flush(images_per_step=cfg.batch_size * info.world_size, stage=stage, lr=lr)
            if log is not None:
                log.write(step, scalars)
                bar.set_postfix(
                    {k: f"{v:.4g}" for k, v in scalars.items() if k in ("g_loss", "d_loss", "images_per_s")}
                )
        if info.is_main and step % cfg.sample_every == 0:
            save_samples(m.shown, fixed_batch, cfg, run_dir / "samples" / f"step_{step:08d}.png")
        if info.is_main and val_set is not None and (step % cfg.val_every == 0 or step == cfg.max_steps):
            assert log is not None
            scores = validate(m.shown, val_set, cfg, device)
            log.write(step, {"stage": stage, **scores})
            warning = dead_warning(scores["val_fusion_saturated"], step, lr)
            if warning:
                bar.write(warning, file=sys.stderr)
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            saved = save_run_state(m, cfg, info, run_dir, step=step, stage=stage, batches_seen=batches.batches_seen)
            last_checkpoint = saved or last_checkpoint
        window.restart_if_flushed()
    bar.close()
    if log is not None:
        log.close()
    return 0


def _stop_on_nan(which: str, step: int, logs: dict[str, float], last: Path | None, info: distributed.DistInfo,
                 bar: Any) -> int:  # fmt: skip
    bar.close()
    if info.is_main:
        where = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        print(f"gmcnn train: stopped: the {which} loss is not finite at step {step + 1} ({logs}); {where}",
              file=sys.stderr)  # fmt: skip
    return 1


__all__ = ["lr_at", "resume_state", "train"]
