"""Fill-quality metrics on user images: PSNR, SSIM and L1, on the whole image and on the hole only.

Inputs are uint8 arrays (``H x W x 3`` RGB, or ``H x W`` grayscale) and, for the hole-only variants, a
bool ``H x W`` mask with **True = hole**. Everything is computed in float64 with numpy alone.

What is computed, exactly (so that numbers compare with the GMCNN paper, which used MATLAB):

* **PSNR** = MATLAB ``psnr(A, ref)``: ``10 log10(255^2 / MSE)`` with the MSE over every element
  (all pixels x 3 channels). Hole-only: the MSE over the hole pixels x 3 channels. Identical inputs give
  ``inf`` (as MATLAB does).
* **SSIM** = MATLAB ``ssim(A, ref)`` with its defaults (its 2013-2021 source, and the default
  ``DataFormat`` of later releases): the inputs are converted to floating point; the local statistics are
  weighted by a Gaussian with sigma 1.5 truncated to 11 taps (``2*ceil(3*sigma)+1``), separable, applied
  with **replicate** padding; C1 = (0.01*255)^2, C2 = (0.03*255)^2, C3 = C2/2 with unit exponents, i.e.
  Wang et al. (2004) eq. 13; the score is the **mean of the full-size SSIM map** (no border crop). For an
  RGB array MATLAB's documented behaviour is that "RGB images will also be processed as 3D volumetric
  images": the Gaussian is three-dimensional (11 x 11 x 11, the third axis running over R, G, B with
  replicate padding) and the map is ``H x W x 3``. We do the same, so the RGB channels are *not* scored
  independently. Hole-only SSIM is the mean of that map over the hole pixels (all 3 channels).
  MATLAB computes uint8 inputs in double, as we do.

  scikit-image's ``structural_similarity(..., channel_axis=-1, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)`` differs: it filters each channel with a 2-D Gaussian
  (reflect padding), averages the channels, and crops a 5-pixel border before the mean. On one channel
  the two maps agree to 1e-12 away from the border (tested). On RGB the difference is large for
  inpainting: the 3-D window pools the R, G, B values, so a smooth fill of the right colour earns
  structure credit that the per-channel form does not give (Telea on a 128^2 hole in 256^2
  scikit-image sample photos: MATLAB 0.91-0.98, scikit-image 0.81-0.97). Because modern papers often
  quote the scikit-image form, we report it too (``ssim_skimage``, computed here in numpy and tested to
  equal scikit-image's value); ``ssim`` is the MATLAB one the GMCNN paper used.
* **L1** = mean absolute difference divided by 255 (so in [0, 1]; tables print it in percent), over all
  elements or over the hole pixels x 3 channels.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import numpy as np

PEAK: Final = 255.0
SSIM_SIGMA: Final = 1.5
SSIM_RADIUS: Final = math.ceil(3 * SSIM_SIGMA)  # 5 -> 11 taps, MATLAB's filtSize = 2*ceil(3*sigma)+1
SSIM_C1: Final = (0.01 * PEAK) ** 2
SSIM_C2: Final = (0.03 * PEAK) ** 2

METRIC_NAMES: Final = ("psnr", "ssim", "l1", "psnr_hole", "ssim_hole", "l1_hole", "ssim_skimage", "ssim_skimage_hole")


def _check_pair(output: np.ndarray, target: np.ndarray) -> None:
    if output.shape != target.shape:
        raise ValueError(f"output {output.shape} and target {target.shape} must have the same shape")
    if output.dtype != np.uint8 or target.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {output.dtype} and {target.dtype}")
    if output.ndim not in (2, 3) or (output.ndim == 3 and output.shape[2] != 3):
        raise ValueError(f"expected an H x W x 3 RGB or H x W grayscale image, got shape {output.shape}")


def _check_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if mask.dtype != np.bool_ or mask.shape != shape[:2]:
        raise ValueError(f"mask must be a bool array of shape {shape[:2]}, got {mask.dtype} {mask.shape}")
    if not mask.any():
        raise ValueError("the mask has no hole pixels: hole-only metrics are undefined")
    return mask


def _select(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """All elements, or the elements of the hole pixels (every channel) when a mask is given."""
    if mask is None:
        return values.ravel()
    return values[_check_mask(mask, values.shape)].ravel()  # bool (H, W) index keeps the channel axis


def psnr(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB with peak 255 (MATLAB ``psnr``); over the hole pixels only when ``mask`` is given."""
    _check_pair(output, target)
    diff = output.astype(np.float64) - target.astype(np.float64)
    mse = float(np.mean(_select(diff, mask) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(PEAK**2 / mse)


def l1(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference / 255 (in [0, 1]); over the hole pixels only when ``mask`` is given."""
    _check_pair(output, target)
    diff = np.abs(output.astype(np.float64) - target.astype(np.float64))
    return float(np.mean(_select(diff, mask))) / PEAK


def gaussian_kernel(sigma: float = SSIM_SIGMA, radius: int = SSIM_RADIUS) -> np.ndarray:
    """The normalised 1-D Gaussian MATLAB's ``imgaussfilt``/``imgaussfilt3`` build (``2*radius+1`` taps)."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(x**2) / (2.0 * sigma**2))
    return k / k.sum()


def gaussian_filter(
    values: np.ndarray,
    kernel: np.ndarray,
    *,
    axes: tuple[int, ...],
    pad_mode: Literal["edge", "symmetric", "reflect"],
) -> np.ndarray:
    """Separable filtering along ``axes``, output the same size.

    Args:
        values: float array.
        kernel: odd-length 1-D kernel (symmetric, so correlation == convolution).
        axes: the axes to filter along.
        pad_mode: ``numpy.pad`` mode: ``"edge"`` is MATLAB's 'replicate', ``"symmetric"`` is scipy's 'reflect',
            ``"reflect"`` mirrors without repeating the edge (the realism pyramid's).
    """
    radius = len(kernel) // 2
    out = values
    for axis in axes:
        moved = np.moveaxis(out, axis, 0)
        padded = np.pad(moved, [(radius, radius)] + [(0, 0)] * (values.ndim - 1), mode=pad_mode)
        n = moved.shape[0]
        acc = np.zeros_like(moved)
        for i, w in enumerate(kernel):
            acc += w * padded[i : i + n]
        out = np.moveaxis(acc, 0, axis)
    return out


def _ssim_map(
    output: np.ndarray, target: np.ndarray, *, axes: tuple[int, ...], pad_mode: Literal["edge", "symmetric"]
) -> np.ndarray:
    """Wang et al. (2004) eq. 13 with Gaussian-weighted population statistics along ``axes``."""
    _check_pair(output, target)
    x = output.astype(np.float64)
    y = target.astype(np.float64)
    k = gaussian_kernel()

    def blur(v: np.ndarray) -> np.ndarray:
        return gaussian_filter(v, k, axes=axes, pad_mode=pad_mode)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    num = (2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    return num / den


def ssim_map(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Local SSIM as MATLAB ``[~, map] = ssim(A, ref)`` gives it: same shape as the inputs; RGB as a 3-D volume."""
    return _ssim_map(output, target, axes=tuple(range(output.ndim)), pad_mode="edge")


def ssim(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """MATLAB-default SSIM (mean of :func:`ssim_map`); the mean over the hole pixels when ``mask`` is given."""
    return float(np.mean(_select(ssim_map(output, target), mask)))


def ssim_map_per_channel(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Local SSIM with a 2-D Gaussian per channel and reflect padding, as scikit-image computes it."""
    return _ssim_map(output, target, axes=(0, 1), pad_mode="symmetric")


def ssim_per_channel(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """scikit-image's SSIM (per-channel 2-D, mean over the map less a 5-px border); hole mean when masked.

    Equal to ``skimage.metrics.structural_similarity(output, target, channel_axis=-1, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=255)``. The hole-only variant averages the map over
    the hole pixels without a border crop.
    """
    return _per_channel_mean(ssim_map_per_channel(output, target), mask)


def _per_channel_mean(smap: np.ndarray, mask: np.ndarray | None) -> float:
    if mask is None:
        r = SSIM_RADIUS  # skimage ignores the filter radius strip around the edges
        return float(np.mean(smap[r:-r, r:-r]))
    return float(np.mean(_select(smap, mask)))


def all_metrics(output: np.ndarray, target: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Every metric of :data:`METRIC_NAMES`, whole image and hole only (each SSIM map computed once)."""
    _check_pair(output, target)
    _check_mask(mask, output.shape)
    smap = ssim_map(output, target)
    pmap = ssim_map_per_channel(output, target)
    return {
        "psnr": psnr(output, target),
        "ssim": float(np.mean(smap)),
        "l1": l1(output, target),
        "psnr_hole": psnr(output, target, mask),
        "ssim_hole": float(np.mean(_select(smap, mask))),
        "l1_hole": l1(output, target, mask),
        "ssim_skimage": _per_channel_mean(pmap, None),
        "ssim_skimage_hole": _per_channel_mean(pmap, mask),
    }


__all__ = [
    "METRIC_NAMES",
    "all_metrics",
    "gaussian_filter",
    "gaussian_kernel",
    "l1",
    "psnr",
    "ssim",
    "ssim_map",
    "ssim_map_per_channel",
    "ssim_per_channel",
]
