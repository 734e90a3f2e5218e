"""Uploads from bytes to a fill (gmcnn.web.uploads): header checks, memory admission from the header and then
from the plan, and what the answer keeps exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers.formats import forged_jpeg
from PIL import Image

from gmcnn import Inpainter
from gmcnn.inpainting.options import FillOptions
from gmcnn.web import uploads as U
from gmcnn.web.errors import ApiError
from gmcnn.web.queue import MemoryBudget, ModelQueue


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def test_headers_refuse_before_decoding_with_the_status_of_the_problem() -> None:
    with pytest.raises(ApiError) as forged:
        U.header(forged_jpeg(), "image", 10**9)
    assert forged.value.status == 400 and "truncated" in forged.value.message
    floats = io.BytesIO()
    Image.fromarray(np.zeros((4, 4), np.float32)).save(floats, "TIFF")
    assert U.header(floats.getvalue(), "mask", 10**9).mode == "F"  # a mask is read, not given back
    with pytest.raises(ApiError) as refused:
        U.header(floats.getvalue(), "image", 10**9, fill=True)
    assert refused.value.status == 415 and "convert it to" in refused.value.message


def test_a_fill_is_admitted_from_its_header_then_from_its_plan(inpainter: Inpainter) -> None:
    """A 10000x10000 resize at 8192 (the network's own fill, detail 0) is refused from the header; a crop
    reserves the image first and its window when the plan is known."""
    head = U.header(_png(np.zeros((8, 8), np.uint8)), "image", 10**9)
    huge = type(head)(head.format, 10000, 10000, head.mode)
    budget, queue = MemoryBudget(3 * 2**30), ModelQueue(1)
    with pytest.raises(ApiError) as never:
        U.admit_fill(budget, queue, inpainter, [huge], FillOptions(strategy="resize", process_size=8192, detail=0))
    assert never.value.status == 413 and never.value.detail["network_bytes"] > 0 and budget.used == 0
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    mask = np.zeros((300, 400), np.uint8)
    mask[100:200, 150:300] = 255
    options = FillOptions(strategy="crop", process_size=128)
    head = U.header(_png(image), "image", 10**9)
    reservation = U.admit_fill(budget, queue, inpainter, [head], options)
    before = reservation.cost
    source, hole, plan = U.prepare(inpainter, _png(image), _png(mask), 10**9, options)
    assert plan.strategy == "crop" and len(plan.windows) == 1 and hole.sum() == 100 * 150
    U.confirm_fill(reservation, queue, inpainter, head, plan, options)
    assert reservation.cost > before and budget.used == reservation.cost
    reservation.release()
    queue.close()


def test_exactness_names_format_and_mode() -> None:
    palette = Image.open(io.BytesIO(_png(np.zeros((4, 4), np.uint8)))).convert("P")
    palette.format = "PNG"  # type: ignore[misc]
    facts = U.exactness(palette)
    assert facts["lossless"] and "PNG P" in facts["exact"] and "bit depth" in facts["exact"]
    jpeg = Image.new("CMYK", (4, 4))
    jpeg.format = "JPEG"  # type: ignore[misc]
    assert not U.exactness(jpeg)["lossless"]
