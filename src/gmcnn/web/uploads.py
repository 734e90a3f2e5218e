"""Uploads, from bytes to a fill: header checks, memory admission, decoding, the hole, and what stays exact.

Every route that takes an image goes through here in the same order, so ``/api/v1/check`` answers what a
fill would: the header first (format, size, frames, bit depth, truncation, a mode the fill gives back —
:mod:`gmcnn.io` and :mod:`gmcnn.inpainting.modes`), then the memory the request will need is reserved from
the header (:mod:`gmcnn.inpainting.memory`; nothing decoded yet), then the pixels are decoded. A fill tops its
reservation up to its plan's estimate before the model runs; whatever its options, a fill that can never fit
gets 413 and one that does not fit beside the fills in flight gets 503.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from gmcnn.errors import EMPTY_MASK, UserError
from gmcnn.inpainting import image as P
from gmcnn.inpainting import modes
from gmcnn.inpainting.memory import fill_memory, provisional_plan
from gmcnn.inpainting.options import FillOptions
from gmcnn.inpainting.pipeline import Inpainter
from gmcnn.inpainting.windows import FillPlan
from gmcnn.io import ImageHeader, decode_image, read_header
from gmcnn.web.errors import ApiError, from_user_error
from gmcnn.web.queue import MemoryBudget, ModelQueue, Reservation

CHECK_BYTES_PER_PIXEL = 8  # a check or preview decodes and (for preview) encodes, without the model
LOSSLESS = ("PNG", "BMP", "TIFF")


def header(data: bytes, field: str, max_pixels: int, *, fill: bool = False) -> ImageHeader:
    """The upload's header, checked; ``fill``: also refuse a mode the fill cannot give back (415)."""
    if not data:
        raise ApiError(422, f"the '{field}' upload is empty (0 bytes)", {"field": field})
    try:
        head = read_header(data, name=f"'{field}'", max_pixels=max_pixels)
        if fill:
            modes.check_mode(head.mode, f"'{field}'")
    except UserError as exc:
        raise from_user_error(exc, field) from None
    return head


def decode(data: bytes, field: str, max_pixels: int) -> Image.Image:
    try:
        return decode_image(data, name=f"'{field}'", max_pixels=max_pixels)
    except UserError as exc:
        raise from_user_error(exc, field) from None


def reserve(budget: MemoryBudget, queue: ModelQueue, headers: list[ImageHeader], per_pixel: int) -> Reservation:
    """Reserve ``per_pixel`` bytes per pixel of the largest upload (a check, a preview, a mask read)."""
    pixels = max(h.width * h.height for h in headers)
    return budget.reserve(pixels * per_pixel, _what(headers[0]), queue.expected_wait())


def _what(head: ImageHeader) -> str:
    return f"a {head.width}x{head.height} {head.format} image"


def _fill_cost(inpainter: Inpainter, head: ImageHeader, plan: FillPlan, options: FillOptions) -> tuple[int, Any]:
    runner = inpainter.runner
    estimate = fill_memory(
        head.height, head.width, plan, options.for_model(inpainter.contract),
        config=inpainter.generator.config, runtime=runner.runtime, precision=runner.precision,
    )  # fmt: skip
    return estimate.total, {**estimate.to_dict(), "strategy": plan.strategy, "windows": len(plan.windows)}


def admit_fill(
    budget: MemoryBudget, queue: ModelQueue, inpainter: Inpainter, heads: list[ImageHeader], options: FillOptions
) -> Reservation:
    """Reserve a fill's memory from the headers alone: the whole image, and for ``original`` / ``resize``
    (whose window is the whole image whatever the mask) the network too."""
    head = max(heads, key=lambda h: h.width * h.height)
    plan = provisional_plan(head.height, head.width, options, inpainter.contract.process_size)
    cost, detail = _fill_cost(inpainter, head, plan, options)
    return budget.reserve(cost, _fill_what(heads[0], options), queue.expected_wait(), detail)


def confirm_fill(
    reservation: Reservation, queue: ModelQueue, inpainter: Inpainter, head: ImageHeader, plan: FillPlan,
    options: FillOptions,
) -> None:  # fmt: skip
    """Top the reservation up to the plan's estimate before the model runs (413 / 503 as for the header)."""
    cost, detail = _fill_cost(inpainter, head, plan, options)
    if cost > reservation.cost:
        reservation.resize(cost, _fill_what(head, options), queue.expected_wait(), detail)


def _fill_what(head: ImageHeader, options: FillOptions) -> str:
    chosen = ", ".join(f"{k} {v}" for k, v in options.to_dict().items() if v is not None)
    return f"filling {_what(head)} ({chosen})"


def mask_hole(mask_image: Image.Image, source: Image.Image) -> np.ndarray:
    """The mask as bool HxW; an empty one is refused with what its brightest pixel was."""
    if mask_image.size != source.size:
        (iw, ih), (mw, mh) = source.size, mask_image.size
        raise ApiError(
            422,
            f"the mask is {mw}x{mh} but the image is {iw}x{ih}; they must be the same size",
            {"image_size": [iw, ih], "mask_size": [mw, mh]},
        )
    try:
        hole = P.normalize_mask(mask_image, size=(source.height, source.width))
    except UserError as exc:
        raise ApiError(422, str(exc), {"field": "mask"}) from None
    if not hole.any():
        top = int(np.asarray(mask_image.convert("RGB")).max())
        if top == 0:
            raise ApiError(422, EMPTY_MASK, {"field": "mask"})
        raise ApiError(
            422,
            f"the mask has no hole pixels: its brightest value is {top} of 255, and only values above 127 "
            "(or exactly 1 in a 0/1 mask) mark holes; paint the part to fill in white",
            {"field": "mask", "brightest": top},
        )
    return hole


def prepare(
    inpainter: Inpainter, image_bytes: bytes, mask_bytes: bytes, max_pixels: int, options: FillOptions
) -> tuple[Image.Image, np.ndarray, FillPlan]:
    """Decode and check an (image, mask) upload pair and plan its fill; ``ApiError`` with the right status."""
    source = decode(image_bytes, "image", max_pixels)
    mask_image = decode(mask_bytes, "mask", max_pixels)
    hole = mask_hole(mask_image, source)
    del mask_image
    try:
        plan = inpainter.plan(source, hole, options)
    except UserError as exc:
        raise from_user_error(exc, "image") from None
    return source, hole, plan


def exactness(source: Image.Image) -> dict[str, Any]:
    """What the answer keeps exactly, for the page and the docs."""
    fmt, mode = source.format or "PNG", source.mode
    lossless = fmt in LOSSLESS or (fmt == "WEBP" and bool(source.info.get("lossless")))
    if lossless:
        text = (
            f"{fmt}{' (lossless)' if fmt == 'WEBP' else ''} {mode}: pixels outside the mask come back "
            f"byte-identical, in the same mode and bit depth"
        )
    else:
        text = (
            f"{fmt} {mode} is lossy: the result is encoded again, so pixels outside the mask may change by a few "
            "levels; ask for a PNG result to keep them exact"
        )
    return {"lossless": lossless, "exact": text}
