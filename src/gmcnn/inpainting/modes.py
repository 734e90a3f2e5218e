"""Image modes a fill takes and gives back: every mode the decoders produce goes in and comes out the same.

The network fills 8-bit RGB; grey and alpha are split off around it (:mod:`gmcnn.inpainting.image`). Every
other mode a file can hold is converted to one of the four *fill modes* on the way in (:func:`to_fill`) and
back to its own mode on the way out (:func:`restore`). The way back copies every pixel the fill did not
change from the source, untouched — a palette index, a CMYK quadruple, a 16-bit grey value — so known pixels
stay byte-identical whatever the mode; only the changed pixels are converted:

================  ===============  ==================================================================
source mode       filled as        changed pixels written back as
================  ===============  ==================================================================
RGB, RGBA, L, LA  itself           themselves
1                 L                thresholded at 128 (no dithering: a dither would spread into known pixels)
P                 RGB / RGBA       the nearest colour of the source's own palette (RGBA when it has
                                   transparency), so the palette, its size and the bit depth stay
I;16, I;16B/L     L (v / 257)      the 8-bit value times 257
CMYK, LAB, YCbCr  RGB              Pillow's conversion back to the mode
================  ===============  ==================================================================

Other modes (32-bit integer ``I``, float ``F``, ``PA``, ...) have no faithful way back and are refused by
:func:`refusal` with what to convert to.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from gmcnn.errors import UnsupportedImage

FILL_MODES = ("RGB", "RGBA", "L", "LA")
_GREY16 = ("I;16", "I;16B", "I;16L")
_VIA_RGB = ("CMYK", "LAB", "YCbCr", "RGBX")
SUPPORTED_MODES = (*FILL_MODES, "1", "P", *_GREY16, *_VIA_RGB)


def refusal(mode: str) -> str | None:
    """Why an image of ``mode`` cannot be filled and given back in its own mode, or ``None`` when it can."""
    if mode in SUPPORTED_MODES:
        return None
    if mode in ("I", "I;32", "I;32B", "I;32L", "F"):
        what = "floating-point" if mode == "F" else "32-bit integer"
        return f"a {what} image (mode {mode}): convert it to 8-bit RGB or 16-bit grey first"
    return f"an image of mode {mode}: convert it to 8-bit RGB, RGBA, grey or palette first"


def check_mode(mode: str, name: str = "image") -> None:
    """Raise :class:`UnsupportedImage` for a mode :func:`refusal` refuses."""
    why = refusal(mode)
    if why is not None:
        raise UnsupportedImage(f"{name} is {why}")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode == "P" and "transparency" in image.info


def to_fill(image: Image.Image) -> Image.Image:
    """``image`` in the fill mode its pixels are filled in (itself for RGB, RGBA, L, LA)."""
    check_mode(image.mode)
    if image.mode in FILL_MODES:
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode in _GREY16:
        wide = np.asarray(image).astype(np.uint32)
        return Image.fromarray(((wide + 128) // 257).astype(np.uint8), "L")  # rounds: 65535 -> 255
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def restore(filled: Image.Image, source: Image.Image, changed: np.ndarray) -> Image.Image:
    """``filled`` (in ``source``'s fill mode) back in ``source``'s mode: unchanged pixels copied from ``source``.

    Args:
        filled: the fill's result, mode ``to_fill(source).mode``.
        source: the image as decoded (its mode, palette and ``info`` are kept).
        changed: bool ``HxW``, True where the fill wrote a pixel; every other pixel is copied from ``source``.
    """
    if source.mode == filled.mode:
        return filled
    out = np.array(source)  # a copy, in the source's own sample format
    if changed.any():
        out[changed] = _convert_changed(filled, source, changed)
    # Raw bytes in the mode's own layout (numpy's for every mode but "1", whose bools Pillow packs itself).
    image = Image.fromarray(out) if source.mode == "1" else Image.frombytes(source.mode, source.size, out.tobytes())
    if source.mode == "P" and source.palette is not None:
        image.putpalette(source.palette.copy())
    image.info = dict(source.info)
    return image


def _convert_changed(filled: Image.Image, source: Image.Image, changed: np.ndarray) -> np.ndarray:
    """The changed pixels of ``filled`` in ``source``'s mode, as the values of ``np.asarray(source)[changed]``."""
    if source.mode == "P":
        return _nearest_palette_index(np.asarray(filled)[changed], source)
    if source.mode in _GREY16:
        return np.asarray(filled)[changed].astype(np.uint16) * 257
    if source.mode == "1":
        return np.asarray(filled)[changed] >= 128
    return np.asarray(filled.convert(source.mode))[changed]


def _nearest_palette_index(pixels: np.ndarray, source: Image.Image, chunk: int = 1 << 16) -> np.ndarray:
    """Index of the nearest entry of ``source``'s palette for each ``pixels`` row (RGB or RGBA; squared distance)."""
    palette = _palette_rgba(source)[:, : pixels.shape[1]]
    out = np.empty(len(pixels), np.uint8)
    for start in range(0, len(pixels), chunk):
        block = pixels[start : start + chunk].astype(np.int32)
        out[start : start + chunk] = ((block[:, None, :] - palette[None]) ** 2).sum(axis=2).argmin(axis=1)
    return out


def _palette_rgba(source: Image.Image) -> np.ndarray:
    """``source``'s palette as int32 ``(n, 4)`` RGBA, alpha from its ``transparency`` (one index or one per entry)."""
    rgb = np.asarray(source.getpalette("RGB") or [0, 0, 0], np.int32).reshape(-1, 3)
    alpha = np.full((len(rgb), 1), 255, np.int32)
    transparency = source.info.get("transparency")
    if isinstance(transparency, int) and transparency < len(rgb):
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        values = np.frombuffer(transparency[: len(rgb)], np.uint8)
        alpha[: len(values), 0] = values
    return np.concatenate([rgb, alpha], axis=1)
