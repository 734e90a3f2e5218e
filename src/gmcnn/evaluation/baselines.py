"""Classical fills to compare against, with the :class:`gmcnn.Inpainter` call contract.

Every baseline is called as ``fill(image, mask) -> filled``: ``image`` uint8 ``H x W x 3`` RGB, ``mask`` any
user mask of the same size (white / non-zero / True = hole, see :func:`gmcnn.inpainting.image.normalize_mask`),
result uint8 ``H x W x 3`` with the pixels outside the hole byte-identical to the input.

Registered names (:func:`get_baseline`):

* ``telea`` — OpenCV ``cv2.inpaint`` with ``INPAINT_TELEA`` (fast marching), radius 3 px.
* ``ns`` — OpenCV ``cv2.inpaint`` with ``INPAINT_NS`` (Navier-Stokes), radius 3 px.
* ``biharmonic`` — scikit-image ``restoration.inpaint_biharmonic``, one solve per connected hole.
* ``pushpull`` — :func:`gmcnn.models.fill.smooth_fill`, the parameter-free pyramid fill the ``smooth`` generators
  start from (so the table shows what their network adds on top of it).
* ``patchmatch`` — the PyPI package ``pypatchmatch`` (``import patchmatch``; Barnes et al. 2009 as implemented by
  Y. Andam, maintained by the InvokeAI lineage), patch radius 3 (7x7 patches) and a fixed seed of 0. Radius 3
  was the best and fastest of 3/5/9/15 on our 256x256 rectangle and stroke cases.
* ``complete`` — the completion stage :func:`gmcnn.inpainting.completion.complete` (multi-scale EM patch
  completion) started from the ``pushpull`` fill, default settings, seed 0.

OpenCV and scikit-image are imported when a baseline is built, not when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from gmcnn.errors import UserError
from gmcnn.inpainting.image import normalize_mask


class Fill(Protocol):
    """Anything called like :class:`gmcnn.Inpainter` on uint8 RGB arrays."""

    def __call__(self, image: np.ndarray, mask: Any) -> np.ndarray: ...


_BASELINES: dict[str, Callable[[], Fill]] = {}


def register_baseline(name: str) -> Callable[[Callable[[], Fill]], Callable[[], Fill]]:
    """Class decorator: make ``name`` build this baseline; a second registration of a name is refused."""

    def add(factory: Callable[[], Fill]) -> Callable[[], Fill]:
        if name in _BASELINES:
            raise ValueError(f"baseline {name!r} is already registered")
        _BASELINES[name] = factory
        return factory

    return add


def baseline_names() -> list[str]:
    """Registered baseline names, sorted."""
    return sorted(_BASELINES)


def get_baseline(name: str) -> Fill:
    """Build the baseline registered as ``name``; unknown names fail with the list of known ones."""
    try:
        factory = _BASELINES[name]
    except KeyError:
        raise UserError(f"unknown baseline {name!r}; known baselines are {baseline_names()}") from None
    return factory()


def _prepare(image: np.ndarray, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate the image and normalise the mask to bool ``(H, W)``, True = hole."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", type(image).__name__)
        raise UserError(f"baselines take a uint8 H x W x 3 RGB array, got {shape}")
    return np.ascontiguousarray(image), normalize_mask(mask, image.shape[:2])


def _keep_known(image: np.ndarray, filled: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Known pixels from the input, hole pixels from the fill (some libraries touch the border of the hole)."""
    out = image.copy()
    out[hole] = filled[hole]
    return out


@dataclass(frozen=True)
class _OpenCVFill:
    flag_name: str
    radius: int = 3

    def __call__(self, image: np.ndarray, mask: Any) -> np.ndarray:
        import cv2

        image, hole = _prepare(image, mask)
        if not hole.any():
            return image.copy()
        filled = cv2.inpaint(image, hole.astype(np.uint8) * 255, self.radius, getattr(cv2, self.flag_name))
        return _keep_known(image, filled, hole)


@register_baseline("telea")
def _telea() -> Fill:
    return _OpenCVFill("INPAINT_TELEA")


@register_baseline("ns")
def _ns() -> Fill:
    return _OpenCVFill("INPAINT_NS")


@register_baseline("biharmonic")
@dataclass(frozen=True)
class BiharmonicFill:
    """scikit-image's biharmonic fill, solved per connected hole (``split_into_regions``: same result, faster)."""

    def __call__(self, image: np.ndarray, mask: Any) -> np.ndarray:
        from skimage.restoration import inpaint_biharmonic

        image, hole = _prepare(image, mask)
        if not hole.any():
            return image.copy()
        filled = inpaint_biharmonic(image, hole, channel_axis=-1, split_into_regions=True)  # float in [0, 1]
        return _keep_known(image, np.clip(np.rint(filled * 255.0), 0, 255).astype(np.uint8), hole)


@register_baseline("pushpull")
@dataclass(frozen=True)
class PushPullFill:
    """The push-pull pyramid fill of :mod:`gmcnn.models.fill` (torch, no parameters)."""

    def __call__(self, image: np.ndarray, mask: Any) -> np.ndarray:
        import torch

        from gmcnn.models.fill import smooth_fill

        image, hole = _prepare(image, mask)
        if not hole.any():
            return image.copy()
        x = torch.tensor(image).permute(2, 0, 1)[None].float()  # a copy: the input may be read-only
        m = torch.from_numpy(hole)[None, None].float()
        filled = smooth_fill(x, m)[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
        return _keep_known(image, filled, hole)


@register_baseline("patchmatch")
@dataclass(frozen=True)
class PatchMatchFill:
    """PatchMatch from the ``pypatchmatch`` package (see module docstring).

    Attributes:
        patch_size: patch radius; patches are ``2 * patch_size + 1`` pixels wide.
        seed: seed of the randomised search, set before every call so results are reproducible.
    """

    patch_size: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        try:
            import patchmatch
        except ImportError:
            raise UserError("the patchmatch baseline needs pypatchmatch: pip install pypatchmatch") from None
        if not patchmatch.patchmatch_available:
            raise UserError("pypatchmatch is installed but its native library failed to load on this machine")

    def __call__(self, image: np.ndarray, mask: Any) -> np.ndarray:
        import patchmatch

        image, hole = _prepare(image, mask)
        if not hole.any():
            return image.copy()
        patchmatch.set_random_seed(self.seed)
        filled = patchmatch.inpaint(image, hole, patch_size=self.patch_size)
        return _keep_known(image, filled, hole)


__all__ = [
    "BiharmonicFill",
    "Fill",
    "PatchMatchFill",
    "PushPullFill",
    "baseline_names",
    "get_baseline",
    "register_baseline",
]
