"""Smart select over HTTP: ``POST /api/v1/select`` snaps a stroke (or a tap) to the outline of the object under it.

The page sends the image it shows and the stroke as a black/white PNG (white = stroke); the answer is the
object as a black/white PNG of the same size (white = the object), which the page adds to its mask. The work
is :func:`gmcnn.inpainting.select.snap` (OpenCV's GrabCut, no model, so it does not wait for the model's
queue); without OpenCV the route answers 501 with how to install it.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from gmcnn.errors import UserError
from gmcnn.inpainting import image as P
from gmcnn.inpainting import select as selection
from gmcnn.io import encode_image
from gmcnn.web import uploads as U
from gmcnn.web.errors import ERROR_RESPONSES, ApiError
from gmcnn.web.middleware import refuse_unknown_fields

SELECT_BYTES_PER_PIXEL = 16  # the decoded image and stroke, an RGB copy, the answer's mask and PNG

# Like every API route: form fields and query parameters it does not declare are refused (422 naming them).
router = APIRouter(dependencies=[Depends(refuse_unknown_fields)])


def _select(image_bytes: bytes, stroke_bytes: bytes, max_pixels: int) -> selection.Selection:
    source = U.decode(image_bytes, "image", max_pixels)
    stroke_image = U.decode(stroke_bytes, "stroke", max_pixels)
    if stroke_image.size != source.size:
        (iw, ih), (sw, sh) = source.size, stroke_image.size
        raise ApiError(422, f"the stroke is {sw}x{sh} but the image is {iw}x{ih}; they must be the same size")
    try:
        stroke = P.normalize_mask(stroke_image, size=(source.height, source.width))
        return selection.snap(P.split_image(source).rgb, stroke)
    except UserError as exc:
        raise ApiError(422, str(exc), {"field": "stroke"}) from None


@router.post(
    "/api/v1/select",
    summary="Smart select: the object a stroke or a tap marks, as a black/white PNG (white = the object)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 501: {"description": "OpenCV is not installed"}, **ERROR_RESPONSES},
)
async def select(
    request: Request,
    image: Annotated[UploadFile, File(description="the image as the page shows it")],
    stroke: Annotated[UploadFile, File(description="same size; white = a rough stroke over the object, or a dot")],
) -> Response:
    if not selection.available():
        raise ApiError(501, selection.MISSING)
    state = request.app.state.gmcnn
    image_bytes, stroke_bytes = await image.read(), await stroke.read()
    heads = [U.header(image_bytes, "image", state.max_pixels), U.header(stroke_bytes, "stroke", state.max_pixels)]
    memory = U.reserve(state.budget, state.queue, heads, SELECT_BYTES_PER_PIXEL)
    try:
        found = await run_in_threadpool(_select, image_bytes, stroke_bytes, state.max_pixels)
        del image_bytes, stroke_bytes
        png = await run_in_threadpool(encode_image, Image.fromarray(found.mask.astype(np.uint8) * 255), "PNG")
    finally:
        memory.release()
    headers = {"X-Gmcnn-Snapped": str(found.snapped).lower(), "X-Gmcnn-Seconds": f"{found.seconds:.3f}"}
    return Response(png, media_type="image/png", headers=headers)
