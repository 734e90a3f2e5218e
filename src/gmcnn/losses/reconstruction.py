"""Reconstruction losses: confidence-driven hole L1 and known-region L1 (pure functions).

Confidence weights (Wang et al. 2018, eq. 3): starting from ``K = 1 - M`` (1 on known pixels), repeat
``W = blur(K) * M; K = (1 - M) + W``. ``W`` is 0 outside the hole and largest next to known pixels, decaying
toward the hole's centre, so the L1 trusts pixels near the boundary more than the guesswork in the middle.

Default blur: a **65x65 box filter, 7 iterations, zero padding**. The official code calls its kernel a Gaussian of
size 65 and "sigma" 1/40, but that sigma is in units of the window and it integrates the normal density only over
``±(sigma + half a bin)`` around 0, so all taps come out nearly equal (within 6e-4 of each other): in effect a box.
Where the official releases differ, each choice is an option:

* ``kernel="official"``: the releases' taps exactly (differences of the normal CDF, ``sqrt`` of their outer
  product -- separable, so 1-D taps ``sqrt(p_i) / sum_j sqrt(p_j)``);
* ``padding``: ``"reflect"`` is the official **PyTorch** layer (``ReflectionPad2d(32)``; outside the image mirrors
  the inside, so a hole at the border is trusted as if known pixels lay beyond it); ``"zeros"`` is the **TF**
  release (``conv2d(padding='SAME')``: outside counts as unknown) and ours by default;
* ``size=64`` with zero padding is the TF release (``priority_loss_mask(hsize=64)``): an even window, padded
  31 before and 32 after as TF 'SAME' pads.

Presets: ``official_pytorch`` = official kernel, 65, reflect; ``official_tf`` = official kernel, 64, zeros. Both are
tested against the official formulas (PyTorch: a direct re-statement; TF: TensorFlow's own output, a fixture).
A real Gaussian (``kernel="gaussian"``, ``sigma`` in pixels) is offered too. All are separable, so the blur is two
1-D convolutions (130 taps, not 4,225, per pixel).

``mask`` is float ``(B, 1, H, W)``, 1 = hole; images are ``(B, 3, H, W)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

KERNELS = ("box", "gaussian", "official")
PADDINGS = ("zeros", "reflect")
OFFICIAL_SIGMA = 1.0 / 40  # the releases' "sigma", in window units


def official_taps(size: int, sigma: float = OFFICIAL_SIGMA) -> torch.Tensor:
    """1-D factor of the official ``gauss_kernel(size, sigma)``: bins of the standard normal CDF, square-rooted.

    The official 2-D kernel is ``sqrt(outer(p, p)) / sum`` with ``p = diff(cdf(linspace(-a, a, size + 1)))`` and
    ``a = sigma + (2 sigma + 1) / size / 2``; ``sqrt(p_i p_j) = sqrt(p_i) sqrt(p_j)``, so it factorises exactly.
    """
    half = sigma + (2 * sigma + 1.0) / size / 2
    edges = torch.linspace(-half, half, size + 1, dtype=torch.float64)
    p = torch.diff(0.5 * (1 + torch.erf(edges / math.sqrt(2.0))))
    taps = torch.sqrt(p)
    return (taps / taps.sum()).float()


def blur_kernel_1d(*, kernel: str = "box", size: int = 65, sigma: float = 16.0) -> torch.Tensor:
    """Normalised 1-D taps of the separable confidence blur.

    Args:
        kernel: ``"box"`` (default), ``"official"`` (the releases' taps) or ``"gaussian"``.
        size: number of taps (odd, or even for the TF release's 64 with zero padding).
        sigma: standard deviation in pixels (``"gaussian"`` only).
    """
    if size < 1:
        raise ValueError(f"confidence kernel size must be a positive number, got {size}")
    if kernel == "box":
        taps = torch.ones(size)
    elif kernel == "official":
        return official_taps(size)
    elif kernel == "gaussian":
        if sigma <= 0:
            raise ValueError(f"gaussian sigma must be > 0, got {sigma}")
        x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
        taps = torch.exp(-0.5 * (x / sigma) ** 2).float()
    else:
        raise ValueError(f"unknown confidence kernel {kernel!r}; valid kernels are {list(KERNELS)}")
    return taps / taps.sum()


@torch.no_grad()
def confidence_weights(
    mask: torch.Tensor,
    *,
    kernel: str = "box",
    size: int = 65,
    sigma: float = 16.0,
    iterations: int = 7,
    padding: str = "zeros",
) -> torch.Tensor:
    """Confidence-driven weights: 0 outside the hole, in (0, 1] inside, highest next to known pixels.

    Args:
        mask: ``(B, 1, H, W)``, 1 = hole.
        kernel: blur kernel, see :func:`blur_kernel_1d`.
        size: kernel taps.
        sigma: Gaussian sigma in pixels.
        iterations: number of propagation steps (7 in the paper).
        padding: ``"zeros"`` (TF release; outside = unknown) or ``"reflect"`` (official PyTorch layer).

    Returns:
        ``(B, 1, H, W)`` float32 weights.
    """
    if iterations < 1:
        raise ValueError(f"confidence iterations must be >= 1, got {iterations}")
    if padding not in PADDINGS:
        raise ValueError(f"unknown confidence padding {padding!r}; valid paddings are {list(PADDINGS)}")
    mask = mask.float()
    taps = blur_kernel_1d(kernel=kernel, size=size, sigma=sigma).to(mask.device)
    row, col = taps.view(1, 1, 1, -1), taps.view(1, 1, -1, 1)
    before = (size - 1) // 2  # TF 'SAME' for an even window: the extra pixel goes after
    after = size - 1 - before
    mode = "constant" if padding == "zeros" else "reflect"
    known = 1.0 - mask
    k = known
    w = torch.zeros_like(mask)
    for _ in range(iterations):
        # The 2-D pad of the official layers, then the separable blur without further padding.
        padded = F.pad(k, (before, after, before, after), mode=mode)
        blurred = F.conv2d(F.conv2d(padded, row), col)
        w = blurred * mask
        k = known + w
    return w


def confidence_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Hole loss: ``mean(|pred - target| * W) / mean(M)`` (the official normalisation).

    Args:
        pred: ``(B, 3, H, W)`` generator output.
        target: ``(B, 3, H, W)`` ground truth.
        mask: ``(B, 1, H, W)``, 1 = hole.
        weights: :func:`confidence_weights` of ``mask``.
    """
    return torch.mean(torch.abs(pred - target) * weights) / mask.mean().clamp_min(1e-8)


def hole_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Plain hole L1: ``mean(|pred - target| * M) / mean(M)`` (every hole pixel counts the same)."""
    return torch.mean(torch.abs(pred - target) * mask) / mask.mean().clamp_min(1e-8)


def hole_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hole mean squared error: ``mean((pred - target)^2 * M) / mean(M)`` (what hole PSNR measures)."""
    return torch.mean(torch.square(pred - target) * mask) / mask.mean().clamp_min(1e-8)


def confidence_l2(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Confidence-weighted squared error, normalised like :func:`confidence_l1` (boundary pixels count more)."""
    return torch.mean(torch.square(pred - target) * weights) / mask.mean().clamp_min(1e-8)


HOLE_LOSSES = ("confidence_l1", "confidence_l2", "l1", "l2")


def known_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Known-region loss: ``mean(|pred - target| * (1 - M)) / mean(1 - M)`` (in the official code, not the paper)."""
    known = 1.0 - mask
    return torch.mean(torch.abs(pred - target) * known) / known.mean().clamp_min(1e-8)


__all__ = [
    "HOLE_LOSSES",
    "KERNELS",
    "PADDINGS",
    "official_taps",
    "blur_kernel_1d",
    "confidence_l1",
    "confidence_l2",
    "confidence_weights",
    "hole_l1",
    "hole_l2",
    "known_l1",
]
