"""``gmcnn train``: the training loop, top to bottom. Runs unchanged as one process or under torchrun (DDP).

    gmcnn train --data DIR --run-dir RUN --preset cpu_small [--max-steps N] [--resume] [--set key=value ...]
    torchrun --nproc-per-node 2 -m gmcnn train --data DIR --run-dir RUN --preset paper_256_rect

Two stages (a step = one generator update):

* ``pretrain`` (step < ``pretrain_steps``): reconstruction losses only;
* ``finetune``: ``d_steps`` critic updates (each on a fresh batch), then one generator update (on the last of
  those batches) with reconstruction + ID-MRF + adversarial terms. The generator simply continues from stage 1.

Run directory: ``checkpoints/step_*.pt`` (resumable state), ``export`` (a link to the latest of
``exports/step_*/``, switched atomically: the generator ``Inpainter.from_pretrained(run_dir)`` loads),
``metrics.jsonl`` (scalars with wall-clock ``time``; TensorBoard events too when installed), ``samples/step_*.png``
(masked input | prediction | composite | target), ``config.json``.

Health (:mod:`gmcnn.training.health`): every step logs the generator's gradient norm (clipped with
``grad_clip``); every validation logs the fusion saturation of the shown and the raw generator, and with
``rollback_saturation`` a saturated run goes back to its last healthy checkpoint at a lower lr.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import torch

from gmcnn.data.datasets import ImageFileDataset, ResumableSampler, Sample
from gmcnn.errors import UserError
from gmcnn.files import atomic_write
from gmcnn.training import distributed
from gmcnn.training.batches import BatchStream, make_datasets, quiet_loader
from gmcnn.training.build import Models, prepare_models, restore
from gmcnn.training.config import TrainConfig
from gmcnn.training.health import (
    GradClipper,
    Health,
    Saturation,
    dead_warning,
    fusion_saturation,
    head_is_flat,
    rollback_target,
)
from gmcnn.training.scalars import MetricsLog, Scalars
from gmcnn.training.state import (
    capture_rng,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    publish_export,
    remove_stale_temps,
    save_checkpoint,
)
from gmcnn.training.steps import discriminator_step, generator_step
from gmcnn.training.validation import SAMPLE_ROWS, save_samples, validate


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


def train(cfg: TrainConfig, run_dir: Path, *, state: dict[str, Any] | None = None, init_from: str | None = None) -> int:
    """Train according to ``cfg`` into ``run_dir``; returns the exit code (0 done, 1 stopped on NaN/inf)."""
    info = distributed.init(cfg.device)
    try:
        return _train(cfg, run_dir, info, state=state, init_from=init_from)
    finally:
        distributed.cleanup()


def train_step(
    m: Models, batches: BatchStream, cfg: TrainConfig, info: distributed.DistInfo, *, stage: str,
    clipper: GradClipper | None = None,
) -> tuple[dict[str, float], str | None]:  # fmt: skip
    """One generator step (after ``d_steps`` critic steps in the finetune stage); returns the logs and the name
    of the loss that was not finite (``None`` when all were). ``clipper`` measures the generator's gradient norm
    (``grad_norm``) and clips it when ``grad_clip`` is on (``grad_clipped``: 1 when it did)."""
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
    if clipper is not None:
        norm, clipped = clipper(m.generator.parameters())
        g_logs.update(grad_norm=norm, grad_clipped=float(clipped))
    m.opt_g.step()
    if m.ema is not None:
        with torch.no_grad():
            for avg, p in zip(m.ema.parameters(), m.generator.parameters(), strict=True):
                avg.lerp_(p, 1.0 - cfg.ema_decay)
    logs.update(g_logs)
    return logs, None


def save_run_state(
    m: Models, cfg: TrainConfig, info: distributed.DistInfo, run_dir: Path, *, step: int, stage: str, batches_seen: int,
    health: Health,
) -> Path | None:  # fmt: skip
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
            keep_last=cfg.keep_last, rank_digests=digests, generator_ema=m.ema, health=health.to_dict(),
            protect_step=health.healthy_step if cfg.rollback_saturation > 0 else None,
        )  # fmt: skip
        publish_export(m.shown, run_dir, step=step, training={
            "image_size": cfg.image_size, "mask_type": cfg.mask_type, "steps": step, "stage": stage,
            "data": cfg.data, "config": cfg.to_dict(),
        })  # fmt: skip
    distributed.barrier(info)
    return path


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
    health = Health.from_dict(state.get("health") if state else None)
    clipper = GradClipper(cfg.grad_clip)
    clipper.load_state_dict(health.clip)
    raw = Saturation(flat=head_is_flat(m.generator))  # the raw generator's, on training batches since validation

    # --- rank-0 bookkeeping
    log = MetricsLog(run_dir, resume_step=step if state else None) if info.is_main else None
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(cfg.to_dict(), indent=2) + "\n"
        atomic_write(run_dir / "config.json", lambda tmp: tmp.write_text(text))
        if train_set.skipped:
            print(f"gmcnn train: skipped {train_set.skipped} unreadable image(s)")
    fixed_batch = next(iter(quiet_loader(val_set or train_set, batch_size=SAMPLE_ROWS)))  # for sample grids
    fixed_batch = Sample(*(t.to(device) for t in fixed_batch))
    last_checkpoint: Path | None = latest_checkpoint(run_dir) if state else None
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not info.is_main, dynamic_ncols=True, unit="step")
    window = Scalars()

    while step < cfg.max_steps:
        stage = "pretrain" if step < cfg.pretrain_steps else "finetune"
        lr = lr_at(step, cfg) * health.lr_scale
        for group in m.opt_g.param_groups:
            group["lr"] = lr
        with fusion_saturation(m.generator, raw):
            logs, failed = train_step(m, batches, cfg, info, stage=stage, clipper=clipper)
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
        if val_set is not None and (step % cfg.val_every == 0 or step == cfg.max_steps):
            share = _validate(m, val_set, cfg, info, log, raw, step=step, stage=stage, lr=lr, bar=bar)
            if cfg.rollback_saturation > 0:
                outcome = _health_check(share, m, cfg, info, run_dir, step=step, health=health, batches=batches,
                                        clipper=clipper, log=log)  # fmt: skip
                if isinstance(outcome, str):
                    bar.close()
                    if info.is_main:
                        print(outcome, file=sys.stderr)
                    return 1
                if outcome is not None:  # rolled back: go on from that checkpoint
                    step = outcome
                    bar.reset(total=cfg.max_steps)
                    bar.update(step)
                    continue
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps:
            health.clip = clipper.state_dict()
            saved = save_run_state(m, cfg, info, run_dir, step=step, stage=stage, batches_seen=batches.batches_seen,
                                   health=health)  # fmt: skip
            last_checkpoint = saved or last_checkpoint
        window.restart_if_flushed()
    bar.close()
    if log is not None:
        log.close()
    return 0


def _validate(
    m: Models, val_set: ImageFileDataset, cfg: TrainConfig, info: distributed.DistInfo, log: MetricsLog | None,
    raw: Saturation, *, step: int, stage: str, lr: float, bar: Any,
) -> float:  # fmt: skip
    """Rank 0 validates the shown generator and logs it with the raw generator's saturation on the training
    batches since the last validation; every rank gets the larger of the two shares (what roll-backs judge)."""
    share = None
    if info.is_main:
        assert log is not None
        scores = validate(m.shown, val_set, cfg, info.device)
        log.write(step, {"stage": stage, **scores, "train_fusion_saturated": raw.share})
        share = max(scores["val_fusion_saturated"], raw.share)
        warning = dead_warning(scores["val_fusion_saturated"], step, lr)
        if warning:
            bar.write(warning, file=sys.stderr)
    raw.reset()
    return float(distributed.broadcast_object(share, info))


def _health_check(
    share: float, m: Models, cfg: TrainConfig, info: distributed.DistInfo, run_dir: Path, *, step: int,
    health: Health, batches: BatchStream, clipper: GradClipper, log: MetricsLog | None,
) -> int | str | None:  # fmt: skip
    """Roll back when the fusion saturation (validated, or the raw generator's on training batches) reached
    ``rollback_saturation``: every rank loads rank 0's newest checkpoint from a healthy validation, and the
    generator's lr scale drops by ``rollback_lr_factor``. Returns None (healthy), the step rolled back to, or the
    message to stop with (too many roll-backs, or no healthy checkpoint left)."""
    if share < cfg.rollback_saturation:
        health.healthy_step = step
        return None
    target = rollback_target(list_checkpoints(run_dir), health.healthy_step) if info.is_main else None
    target = distributed.broadcast_object(target, info)
    if health.rollbacks >= cfg.max_rollbacks or target is None:
        reason = f"after {health.rollbacks} roll-backs" if target else "and no checkpoint from a healthy validation"
        return (
            f"gmcnn train: stopped: at step {step} {share:.1%} of the fusion pre-activations are flat {reason}; "
            f"restart from an earlier checkpoint with a lower lr, or turn on fusion_act=leaky_relu and grad_clip"
        )
    state = distributed.broadcast_object(load_checkpoint(target) if info.is_main else None, info)
    to_step, batches_seen = restore(m, state, info)
    batches.seek(batches_seen)
    health.clip = Health.from_dict(state.get("health")).clip
    clipper.load_state_dict(health.clip)
    health.lr_scale *= cfg.rollback_lr_factor
    health.rollbacks += 1
    if log is not None:  # logged at the step it returns to, so a later resume from there keeps the record
        log.write(to_step, {"event": "rollback", "from_step": step, "fusion_saturated": share,
                            "lr_scale": health.lr_scale, "rollbacks": health.rollbacks})  # fmt: skip
    # Re-saved with the new lr scale and count, so a kill before the next checkpoint cannot undo the roll-back.
    stage = "pretrain" if to_step < cfg.pretrain_steps else "finetune"
    save_run_state(m, cfg, info, run_dir, step=to_step, stage=stage, batches_seen=batches_seen, health=health)
    return to_step


def _stop_on_nan(which: str, step: int, logs: dict[str, float], last: Path | None, info: distributed.DistInfo,
                 bar: Any) -> int:  # fmt: skip
    bar.close()
    if info.is_main:
        where = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        print(f"gmcnn train: stopped: the {which} loss is not finite at step {step + 1} ({logs}); {where}",
              file=sys.stderr)  # fmt: skip
    return 1


__all__ = ["lr_at", "resume_state", "train"]
