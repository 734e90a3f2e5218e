"""A parameter-free smooth fill of the hole (push-pull pyramid), used as the generator's starting point.

``smooth_fill(image, mask)`` keeps every known pixel and fills the hole from a pyramid of mask-weighted block
means: each level is the mean of the known pixels in its blocks (``pull``), and going back up, a pixel takes
``w * own_mean + (1 - w) * upsampled_coarser_level`` where ``w`` is its block's known fraction (``push``). The
coarsest level is the image's mean known colour, so any hole, however large, gets a value. After each level's
push, ``relax`` Jacobi sweeps of the 4-neighbour mean (fully known pixels held fixed) smooth the blocky push-pull
result toward the harmonic (Laplace) interpolation; the pyramid makes this a multigrid solve, so a few sweeps
per level suffice even for large holes. Cost at 512x512: about 40 full-resolution depthwise 3x3 convolutions.

Measured on the 30-case quality protocols (``runs/quality``), hole PSNR / whole SSIM: plain push-pull
15.70 / 0.893 (paper rect), 15.15 / 0.890 (centre), 17.25 / 0.894 (strokes); with 30 sweeps per level
15.99 / 0.901, 15.97 / 0.908, 18.38 / 0.912. OpenCV Telea: 15.27 / 0.908, 15.21 / 0.909, 18.45 / 0.920.

Why: a network that starts from zeros in the hole must first learn to copy the surrounding colours (the issue's
measurements: 4 dB below OpenCV Telea after 800 CPU steps). Starting from a smooth fill and predicting a
correction, it starts at about the classical fills' quality and training spends its steps on what they miss.

The number of pyramid levels is fixed (not derived from the input size), so a traced/ONNX graph is valid for any
size; blocks that see no known pixel at the coarsest level fall back to the global mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LEVELS = 8  # 2^8 = 256 px blocks at the coarsest level, then the global mean
RELAX = 30  # Jacobi sweeps per level (more: closer to harmonic, slower; 30 measured above)


def smooth_fill(image: torch.Tensor, mask: torch.Tensor, levels: int = LEVELS, relax: int = RELAX) -> torch.Tensor:
    """Fill the hole of ``image`` smoothly from its known pixels.

    Args:
        image: ``(B, C, H, W)``; values under the hole are ignored.
        mask: ``(B, 1, H, W)``, 1 = hole, 0 = known (soft values are treated as fractions).
        levels: pyramid depth.
        relax: smoothing sweeps per level.

    Returns:
        ``(B, C, H, W)``: equal to ``image`` where ``mask == 0``, a smooth fill where ``mask == 1``.
    """
    known = 1.0 - mask
    value = image * known  # (B, C, H, W): known colour, 0 in the hole
    weight = known
    pyramid = []
    for _ in range(levels):
        pyramid.append((value, weight))
        # ceil_mode: odd sizes keep their last row/column (the divisor excludes the overhang, for both terms)
        value = F.avg_pool2d(value, 2, ceil_mode=True)
        weight = F.avg_pool2d(weight, 2, ceil_mode=True)
    total = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-8)
    mean = value.sum(dim=(2, 3), keepdim=True) / total  # (B, C, 1, 1): the mean known colour
    fill = value / weight.clamp_min(1e-8) * (weight > 0) + mean * (weight <= 0)
    for value, weight in reversed(pyramid):
        up = F.interpolate(fill, size=value.shape[-2:], mode="bilinear", align_corners=False)
        # value is the block mean of known colours times the known fraction, so this is a convex blend
        fill = value + (1.0 - weight) * up
        if relax:
            fill = _relax(fill, value, weight, relax)
    return fill


def _relax(fill: torch.Tensor, value: torch.Tensor, weight: torch.Tensor, sweeps: int) -> torch.Tensor:
    """Jacobi sweeps of ``fill <- mean of its 4 neighbours`` where the block is not fully known."""
    fixed = (weight >= 1.0 - 1e-6).to(fill.dtype)  # (B, 1, h, w): blocks with no hole pixel keep their mean
    known = value * fixed  # the known mean there (weight is 1)
    free = 1.0 - fixed
    for _ in range(sweeps):
        # Slices, not a depthwise conv: on 3 channels the additions are ~10x faster than oneDNN's conv.
        p = F.pad(fill, (1, 1, 1, 1), mode="replicate")
        neighbours = (p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]) * 0.25
        fill = known + free * neighbours
    return fill


__all__ = ["LEVELS", "RELAX", "smooth_fill"]
