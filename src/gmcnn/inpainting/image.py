"""Pure conversions between user-facing images/masks and the tensors the network sees.

Conventions used everywhere in gmcnn:

======================  ==========================================================================
name                    meaning and form
======================  ==========================================================================
``image`` (tensor)      float32 ``(B, 3, H, W)``, RGB in [-1, 1]
``mask`` (tensor)       float32 ``(B, 1, H, W)``, exactly {0, 1}, **1 = hole (to fill), 0 = known**
``pred``                raw generator output, like ``image``, clamped to [-1, 1]
``inpainted``           ``pred * mask + image * (1 - mask)``
user image              PIL image or uint8 ndarray ``HxW``, ``HxWx3`` or ``HxWx4`` (alpha passed through);
                        outputs have the input's type, mode/shape and size
user mask               PIL "L"/"1"/"RGBA", bool, uint8 0/1 or 0/255, float in [0, 1];
                        white / non-zero / True = hole
======================  ==========================================================================

Back to uint8 we **round** (the official code truncates). Pixels outside the mask are never recomputed: the
one composite (:func:`composite_into`) writes only pixels with a weight, so the others are byte-identical.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gmcnn.errors import UserError
from gmcnn.inpainting import modes

# A mask may have soft edges (anti-aliased brush, JPEG noise) but must be mostly black/white.
MAX_GREY_FRACTION = 0.05


@dataclass(frozen=True)
class UserImage:
    """A user image split into what the model fills and what is passed through.

    Attributes:
        rgb: uint8 ``HxWx3`` (grey images are repeated to three channels).
        alpha: uint8 ``HxW`` or ``None``; passed through untouched.
        kind: ``"pil"`` or ``"numpy"``.
        mode: PIL mode (``"RGB"``, ``"RGBA"``, ``"L"``, ``"LA"``) describing the channels to return.
        source: the original object (for PIL metadata such as ``info`` and ``format``).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    kind: str
    mode: str
    source: Any

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def split_image(image: Image.Image | np.ndarray) -> UserImage:
    """Accept a PIL image or uint8 ndarray and split it into RGB + optional alpha.

    Raises:
        UserError: unsupported type, dtype, shape or mode, with what was expected.
    """
    if isinstance(image, Image.Image):
        pil = modes.to_fill(image)  # P, 1, CMYK, 16-bit grey, ... in a fill mode; merge_image gives the mode back
        arr = np.asarray(pil)
        kind, mode = "pil", pil.mode
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise UserError(f"image array must be uint8 (0-255), got dtype {arr.dtype}")
        if arr.ndim == 2:
            mode = "L"
        elif arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
            mode = {1: "L", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
            if arr.shape[2] == 1:
                arr = arr[..., 0]
        else:
            raise UserError(f"image array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
        kind = "numpy"
    else:
        raise UserError(f"image must be a PIL.Image or a uint8 numpy array, got {type(image).__name__}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise UserError(f"image is empty ({arr.shape[1]}x{arr.shape[0]})")
    if mode in ("L", "LA"):
        grey = arr if arr.ndim == 2 else arr[..., 0]
        rgb = np.repeat(grey[..., None], 3, axis=2)
        alpha = arr[..., 1] if mode == "LA" else None
    else:
        rgb = arr[..., :3]
        alpha = arr[..., 3] if mode == "RGBA" else None
    # Copies: PIL-backed arrays are read-only, and the caller's array must never be written to.
    return UserImage(np.array(rgb, copy=True), None if alpha is None else alpha.copy(), kind, mode, image)


def merge_image(rgb: np.ndarray, like: UserImage) -> Image.Image | np.ndarray:
    """Inverse of :func:`split_image`: same type, mode/shape and alpha as ``like``."""
    if like.mode in ("L", "LA"):
        # Grey in, grey out: the luma of the fill; for grey pixels (R = G = B) PIL's luma is exact.
        arr = np.asarray(Image.fromarray(rgb, "RGB").convert("L"))
    else:
        arr = rgb
    if like.alpha is not None:
        arr = np.concatenate([arr.reshape(*arr.shape[:2], -1), like.alpha[..., None]], axis=2)
    if like.kind == "numpy":
        src = like.source
        return arr.reshape(src.shape) if arr.size == src.size else arr
    out = Image.fromarray(arr, like.mode)
    src = like.source
    if src.mode != like.mode:  # back to the source's own mode; every pixel the fill left alone is copied
        out = modes.restore(out, src, (rgb != like.rgb).any(axis=2))
    out.info = dict(getattr(src, "info", {}))
    if getattr(src, "format", None):
        out.format = src.format  # type: ignore[misc]  # keep the source format for save_image(like=...)
    return out


def normalize_mask(mask: Any, size: tuple[int, int] | None = None) -> np.ndarray:
    """Turn any accepted user mask into a bool ``HxW`` array, True = hole.

    Accepted: PIL "1", "L", "LA", "RGB", "RGBA", "P" (white / non-zero = hole; for RGBA with a real alpha channel,
    the painted = opaque pixels are the hole), bool arrays, uint8 0/1 or 0/255, float in [0, 1]. A colour mask
    (PIL or numpy alike) reads as its brightest channel, so a pure red, green or blue stroke is a hole. Soft edges are
    thresholded at the middle of the range; a mask with more than 5 % grey pixels is refused as non-binary
    (it is probably a photo passed by mistake).

    Args:
        mask: the user mask.
        size: expected (height, width); a mismatch raises a ``UserError`` naming both sizes.
    """
    if isinstance(mask, Image.Image):
        if mask.mode == "RGBA" or mask.mode == "LA" or (mask.mode == "P" and "transparency" in mask.info):
            rgba = np.asarray(mask.convert("RGBA"))
            alpha = rgba[..., 3]
            arr = alpha if alpha.min() < 255 else rgba[..., :3].max(axis=2)
        elif mask.mode == "1":
            arr = np.asarray(mask).astype(np.uint8) * 255
        elif mask.mode == "L":
            arr = np.asarray(mask)
        elif mask.mode in ("RGB", "P"):
            arr = np.asarray(mask.convert("RGB")).max(axis=2)  # the same rule as a numpy colour mask
        else:
            raise UserError(f"unsupported mask mode {mask.mode!r}: expected a black/white L, 1, RGB or RGBA image")
    elif isinstance(mask, np.ndarray):
        arr = mask
        if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
            arr = arr[..., :3].max(axis=2) if arr.shape[2] >= 3 else arr[..., 0]
        if arr.ndim != 2:
            raise UserError(f"mask array must be HxW (or HxWx1/3/4), got shape {mask.shape}")
    elif isinstance(mask, torch.Tensor):
        return normalize_mask(mask.detach().cpu().numpy().squeeze(), size)
    else:
        raise UserError(f"mask must be a PIL.Image or numpy array, got {type(mask).__name__}")

    if size is not None and tuple(arr.shape[:2]) != tuple(size):
        raise UserError(
            f"mask size {arr.shape[1]}x{arr.shape[0]} does not match image size {size[1]}x{size[0]} (width x height)"
        )
    if arr.dtype == np.bool_:
        return arr.copy()
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise UserError("float mask must hold values in [0, 1] (1 = hole)")
        hi, lo, mid = 1.0, 0.0, 0.5
    elif np.issubdtype(arr.dtype, np.integer):
        top = int(arr.max()) if arr.size else 0
        if arr.min() < 0 or top > 255:
            raise UserError(f"integer mask must hold 0/1 or 0-255 values, got range [{arr.min()}, {top}]")
        if top <= 1:
            return arr.astype(bool)
        hi, lo, mid = 255.0, 0.0, 127.5
    else:
        raise UserError(f"unsupported mask dtype {arr.dtype}: expected bool, uint8 or float")
    span = hi - lo
    grey = (arr > lo + 0.0625 * span) & (arr < hi - 0.0625 * span)
    fraction = float(grey.mean()) if arr.size else 0.0
    if fraction > MAX_GREY_FRACTION:
        raise UserError(
            f"mask is not binary: {fraction:.0%} of its pixels are grey; expected black (keep) and white (fill)"
        )
    return arr > mid


def rgb_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """uint8 ``HxWx3`` -> float32 ``(1, 3, H, W)`` in [-1, 1]."""
    t = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).unsqueeze(0)  # a copy: inputs may be read-only
    return t.float().div_(127.5).sub_(1.0)


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """bool ``HxW`` -> float32 ``(1, 1, H, W)``, 1 = hole."""
    return torch.from_numpy(np.ascontiguousarray(mask)).float()[None, None]


def tensor_to_rgb(image: torch.Tensor) -> np.ndarray:
    """float ``(1, 3, H, W)`` in [-1, 1] -> uint8 ``HxWx3``, rounded (not truncated)."""
    t = image.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return t[0].permute(1, 2, 0).cpu().numpy()


def composite(pred: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``pred * mask + image * (1 - mask)`` (soft masks allowed, e.g. a feathered seam)."""
    return pred * mask + image * (1 - mask)


def composite_into(out: np.ndarray, pred: torch.Tensor, rgb: np.ndarray, weight: np.ndarray) -> None:
    """The fill's one composite: write ``round(pred * weight + rgb * (1 - weight))`` into ``out`` where weight > 0.

    Args:
        out: uint8 ``HxWx3`` written in place; pixels with weight 0 are not touched (byte-identical).
        pred: float ``(1, 3, H, W)`` prediction in [-1, 1].
        rgb: uint8 ``HxWx3``, the input pixels.
        weight: float32 ``HxW`` blend weight (1 = hole, 0 = known, in between over a feather band).
    """
    blended = tensor_to_rgb(composite(pred, rgb_to_tensor(rgb), torch.from_numpy(weight)[None, None]))
    region = weight > 0
    out[region] = blended[region]


def pad_to_fit(
    image: torch.Tensor, mask: torch.Tensor, *, multiple: int, min_size: int
) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int, int, int]]:
    """Pad ``image`` and ``mask`` to a size the network accepts; returns them and (left, right, top, bottom).

    Sizes that already fit are returned unchanged, so results for valid sizes are exactly the network's. The
    padding reflects the picture (context the network can use); beyond one reflection it replicates the edge.
    """
    h, w = image.shape[-2:]
    th = max(min_size, math.ceil(h / multiple) * multiple)
    tw = max(min_size, math.ceil(w / multiple) * multiple)
    top, left = (th - h) // 2, (tw - w) // 2
    pads = (left, tw - w - left, top, th - h - top)
    if pads == (0, 0, 0, 0):
        return image, mask, pads
    return _pad(image, pads), _pad(mask, pads), pads


def _pad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    # Reflection needs the pad to be smaller than the side; pad in steps that reflect, then replicate.
    rl, rr, rt, rb = min(left, w - 1), min(right, w - 1), min(top, h - 1), min(bottom, h - 1)
    if any((rl, rr, rt, rb)):
        x = F.pad(x, (rl, rr, rt, rb), mode="reflect")
    rest = (left - rl, right - rr, top - rt, bottom - rb)
    if any(rest):
        x = F.pad(x, rest, mode="replicate")
    return x


def unpad(x: torch.Tensor, pads: tuple[int, int, int, int]) -> torch.Tensor:
    """Undo :func:`pad_to_fit`."""
    left, right, top, bottom = pads
    h, w = x.shape[-2:]
    return x[..., top : h - bottom, left : w - right]


def grow_mask(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate a bool mask by ``pixels`` (an octagon close to a disc; alternating square and cross steps)."""
    if pixels <= 0:
        return mask.copy()
    for step in _dilation_steps(mask, pixels):
        last = step
    return last > 0


def feather_weights(mask: np.ndarray, pixels: int) -> np.ndarray:
    """float32 ``HxW`` blend weight: 1 inside the hole, falling linearly to 0 over ``pixels`` px outside it.

    Only pixels closer than ``pixels`` to the hole get a weight between 0 and 1; everything farther stays 0,
    i.e. byte-identical in the result.
    """
    if pixels <= 0:
        return mask.astype(np.float32)
    total = np.zeros(mask.shape, dtype=np.float32)
    for step in _dilation_steps(mask, pixels):
        total += step
    return total / np.float32(pixels + 1)


def _dilation_steps(mask: np.ndarray, pixels: int) -> Iterator[np.ndarray]:
    """mask, dilate(mask, 1), ..., dilate(mask, pixels) as float32 arrays, one at a time (a list of them all
    would hold ``pixels + 1`` float copies of the image: 100 GB for grow=256 on 100 MP)."""
    x = torch.from_numpy(mask.astype(np.float32))[None, None]
    yield x[0, 0].numpy()
    for i in range(pixels):
        if i % 2 == 0:
            x = F.max_pool2d(x, 3, stride=1, padding=1)  # square step
        else:  # cross step: grows along the axes only, so the shape rounds toward a disc
            x = torch.maximum(F.max_pool2d(x, (3, 1), 1, (1, 0)), F.max_pool2d(x, (1, 3), 1, (0, 1)))
        yield x[0, 0].numpy()


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize uint8 ``HxWx3`` to (height, width) with a high-quality filter (Lanczos down, bicubic up)."""
    h, w = size
    if (h, w) == rgb.shape[:2]:
        return rgb
    down = h * w < rgb.shape[0] * rgb.shape[1]
    return np.asarray(
        Image.fromarray(rgb).resize((w, h), Image.Resampling.LANCZOS if down else Image.Resampling.BICUBIC)
    )


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask so that any hole pixel stays a hole (area average > 0, i.e. conservative)."""
    h, w = size
    if (h, w) == mask.shape:
        return mask.copy()
    t = torch.from_numpy(mask.astype(np.float32))[None, None]
    return (F.interpolate(t, size=(h, w), mode="area" if h * w < mask.size else "nearest")[0, 0] > 0).numpy()
