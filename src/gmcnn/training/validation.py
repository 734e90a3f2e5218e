"""What a run shows of its generator: validation scores and sample grids (rank 0, no gradients).

Scripts and benchmarks that score fills the way training validates them import :func:`to_uint8`,
:func:`predict` and :func:`case_scores` from here.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from gmcnn.data.datasets import ImageFileDataset, Sample
from gmcnn.training.batches import quiet_loader
from gmcnn.training.config import TrainConfig
from gmcnn.training.health import fusion_saturation

SAMPLE_ROWS = 4


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> uint8 (B, H, W, 3), rounded."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def predict(generator: nn.Module, batch: Sample, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    image, mask, _ = batch
    with torch.autocast(device_type=image.device.type, dtype=torch.bfloat16, enabled=cfg.bf16):
        pred = generator(image, mask).float()
    return pred, pred * mask + image * (1 - mask)


def save_samples(generator: nn.Module, batch: Sample, cfg: TrainConfig, path: Path) -> None:
    """PNG grid, one row per image: masked input | prediction | composite | target."""
    batch = Sample(*(t[:SAMPLE_ROWS] for t in batch))
    pred, inpainted = predict(generator, batch, cfg)
    image, mask, _ = batch
    masked = image * (1 - mask) + mask  # hole shown white
    columns = [to_uint8(t) for t in (masked, pred, inpainted, image)]
    grid = np.concatenate([np.concatenate(row, axis=1) for row in zip(*columns, strict=True)], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)


def validate(
    generator: nn.Module, val_set: ImageFileDataset, cfg: TrainConfig, device: torch.device
) -> dict[str, float]:
    """Mean PSNR / SSIM (MATLAB definitions, whole image) and hole PSNR of the composites over the validation set,
    and the generator's fusion saturation and share below -3 (:mod:`gmcnn.training.health`)."""
    scores: dict[str, list[float]] = defaultdict(list)
    with fusion_saturation(generator) as saturation:
        for batch in quiet_loader(val_set, batch_size=cfg.batch_size):
            batch = Sample(*(t.to(device) for t in batch))
            _, inpainted = predict(generator, batch, cfg)
            holes = (batch.mask[:, 0] > 0.5).cpu().numpy()
            for out, ref, hole in zip(to_uint8(inpainted), to_uint8(batch.image), holes, strict=True):
                for key, value in case_scores(out, ref, hole).items():
                    scores[key].append(value)
    means = {k: float(np.mean(v)) for k, v in scores.items()}
    return {**means, "val_fusion_saturated": saturation.share, "val_fusion_negative": saturation.negative_share}


def case_scores(out: np.ndarray, ref: np.ndarray, hole: np.ndarray) -> dict[str, float]:
    """One validation case's metrics (uint8 HxWx3 fill and target, bool hole): what :func:`validate` averages."""
    from gmcnn.evaluation.metrics import psnr, ssim

    return {"val_psnr": psnr(out, ref), "val_ssim": ssim(out, ref), "val_hole_psnr": psnr(out, ref, hole)}


__all__ = ["SAMPLE_ROWS", "case_scores", "predict", "save_samples", "to_uint8", "validate"]
