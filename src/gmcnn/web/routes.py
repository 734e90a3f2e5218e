"""The routes: fill, check an upload, preview it, job progress and cancel, health, the page and its docs.

Every route reads the server's parts from ``request.app.state.gmcnn`` (a :class:`ServerState`); none holds
state of its own. Uploads go through the same path everywhere (:mod:`gmcnn.web.uploads`): header checks
(format, pixel limit, frames, bit depth, truncation, memory budget) before any pixel is decoded, then the
decode and the plan, the memory of the plan, then the model on its one thread.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from gmcnn.errors import EMPTY_MASK, UserError
from gmcnn.inpainting import image as P
from gmcnn.inpainting import select as selection
from gmcnn.inpainting.options import STRATEGIES, FillOptions
from gmcnn.inpainting.pipeline import Inpainter
from gmcnn.io import encode_image
from gmcnn.version import __version__
from gmcnn.web import uploads as U
from gmcnn.web.errors import ERROR_RESPONSES, ApiError, from_user_error
from gmcnn.web.explain_routes import Explanations, describe
from gmcnn.web.form import OPTIONS_FORM
from gmcnn.web.middleware import refuse_unknown_fields
from gmcnn.web.queue import Cancelled, Job, Jobs, MemoryBudget, ModelQueue, Reservation, Slot

STATIC_DIR = Path(__file__).parent / "static"  # inside the package, never the working directory
# The fill options as the form, /api/v1/health and the page read them: defined once, in FillOptions.
OPTIONS: dict[str, dict[str, Any]] = FillOptions.schema()
OUTPUTS = ("same", "png")
IMAGE_TYPES: dict[str, Any] = {t: {} for t in ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff")}
Explained = tuple[dict[str, Any], dict[str, np.ndarray]]  # an explanation's description and pictures
# An explained fill's extra working memory: four stage pictures, sources (int32 x 2), confidence, the six
# finished RGB pictures and their copies on the way to the store (48), and the completion stage's search for
# where each pixel was copied from (numba; measured 57-86 B/px over the plain completion on 4-16 MP windows: 96).
EXPLAIN_BYTES_PER_PIXEL = 144


@dataclass
class ServerState:
    """The parts every route uses: the model, its queue, the memory budget, jobs and the limits."""

    inpainter: Inpainter
    queue: ModelQueue
    budget: MemoryBudget
    jobs: Jobs
    max_upload_bytes: int
    max_pixels: int
    explanations: Explanations = field(default_factory=Explanations)  # the explain=true fills' pictures


def _state(request: Request) -> ServerState:
    return request.app.state.gmcnn  # type: ignore[no-any-return]


# Every route refuses query parameters and form fields it does not declare (422 naming them).
router = APIRouter(dependencies=[Depends(refuse_unknown_fields)])
_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


# ------------------------------------------------------------------------------------------------ fill
@router.post(
    "/api/v1/inpaint",
    summary="Fill the masked part of an image",
    response_class=Response,
    responses={
        200: {"content": IMAGE_TYPES, "description": "the filled image, in the upload's format"},
        **ERROR_RESPONSES,
    },
)
async def inpaint(
    request: Request,
    image: Annotated[UploadFile, File(description="the photo (PNG, JPEG, WEBP, BMP or TIFF)")],
    mask: Annotated[UploadFile, File(description="same size as the image; white / non-zero = hole")],
    options: Annotated[FillOptions, Depends(OPTIONS_FORM)],
    output: Annotated[str, Form(description="'same' = the upload's format, 'png' = lossless PNG")] = "same",
    job: Annotated[
        str | None, Form(description="a new random id: poll GET /api/v1/jobs/{id}, cancel with DELETE")
    ] = None,
    explain: Annotated[
        bool,
        Form(
            description="also keep how it was filled (stages, sources, confidence), from this same fill: "
            "GET /api/v1/jobs/{id}/explain, with the job id (or the one answered in X-Gmcnn-Job)"
        ),
    ] = False,
) -> Response:
    if output not in OUTPUTS:
        raise ApiError(422, f"unknown output {output!r}: use one of {', '.join(OUTPUTS)}", {"field": "output"})
    state = _state(request)
    if explain and not job:
        job = secrets.token_hex(12)  # the pictures need an id to be asked for
    tracked = state.jobs.start(job) if job else None
    slot = state.queue.admit()
    memory: Reservation | None = None
    pictures: Reservation | None = None
    try:
        image_bytes, mask_bytes = await image.read(), await mask.read()
        heads = [U.header(image_bytes, "image", state.max_pixels, fill=True),
                 U.header(mask_bytes, "mask", state.max_pixels)]  # fmt: skip
        memory = U.admit_fill(state.budget, state.queue, state.inpainter, heads, options)
        if explain:  # the explanation's pictures while the fill makes them (the store keeps them within its own bound)
            pictures = U.reserve(state.budget, state.queue, heads[:1], EXPLAIN_BYTES_PER_PIXEL)
        source, hole, plan = await run_in_threadpool(
            U.prepare, state.inpainter, image_bytes, mask_bytes, state.max_pixels, options
        )
        del image_bytes, mask_bytes
        U.confirm_fill(memory, state.queue, state.inpainter, heads[0], plan, options)
        result, info, explained = await _run_fill(state, slot, tracked, source, hole, options, explain)
        fmt = "PNG" if output == "png" else (source.format or "PNG")  # decode_image always sets it
        body = await run_in_threadpool(encode_image, result, fmt, like=source)
    finally:
        if not slot.handed_over:
            slot.release()
        for reserved in (memory, pictures):
            if reserved is not None:
                reserved.release()
    headers = {
        "X-Gmcnn-Strategy": str(info.get("strategy", options.strategy)),
        "X-Gmcnn-Windows": str(info.get("windows", 0)),
    }
    if "seconds" in info:
        headers["X-Gmcnn-Seconds"] = f"{float(info['seconds']):.3f}"
    # which model made it; a name from a folder may hold any character, headers only printable ASCII
    headers["X-Gmcnn-Model"] = quote(str(info.get("model", "")), safe=_PRINTABLE)
    if explained is not None and job is not None:
        description = describe(job, explained[0], model=str(info.get("model", "")), size=source.size)
        headers["X-Gmcnn-Job"] = job
        headers["X-Gmcnn-Explained"] = str(state.explanations.put(job, description, explained[1])).lower()
    return Response(body, media_type=Image.MIME.get(fmt, "application/octet-stream"), headers=headers)


async def _run_fill(
    state: ServerState,
    slot: Slot,
    job: Job | None,
    source: Image.Image,
    hole: np.ndarray,
    options: FillOptions,
    explain: bool = False,
) -> tuple[Any, dict[str, Any], Explained | None]:
    """Run the model on its thread; 409 if the job is cancelled, 422 for a mode the model cannot fill.

    With ``explain``, also the fill's own explanation: its description and pictures (made on the model's thread).
    """

    def fill() -> tuple[
        Any, dict[str, Any], Explained | None
    ]:  # the model served when it runs (a switch runs here too)
        progress = job.progress if job is not None else None
        done = state.inpainter.fill(source, hole, options, progress=progress, explain=explain)
        shown = done.explanation
        return done.image, done.info(), None if shown is None else (shown.describe(), shown.pictures())

    try:
        result, info, explained = await state.queue.run(slot, fill)
    except Cancelled:
        if job is not None:
            job.state = "cancelled"
        raise ApiError(409, "the fill was cancelled", {"job": "cancelled"}) from None
    except UserError as exc:  # e.g. an image mode the model cannot fill
        if job is not None:
            job.state = "failed"
        raise ApiError(422, str(exc)) from None
    if job is not None:
        job.state = "done"
    return result, info, explained


@router.post(
    "/api/v1/plan", summary="What a fill of this mask would do: strategy and windows", responses=ERROR_RESPONSES
)
async def plan(
    request: Request,
    mask: Annotated[UploadFile, File(description="the mask (white / non-zero = hole), at the image's size")],
    options: Annotated[FillOptions, Depends(OPTIONS_FORM)],
) -> dict[str, Any]:
    """The server's own plan (the page shows it instead of guessing the server's rules)."""
    state = _state(request)
    return await _without_model(request, mask, "mask", lambda data, limit: _plan(state.inpainter, data, limit, options))


def _plan(inpainter: Inpainter, data: bytes, max_pixels: int, options: FillOptions) -> dict[str, Any]:
    image = U.decode(data, "mask", max_pixels)
    try:
        hole = P.normalize_mask(image)
        planned = inpainter.plan(np.zeros(hole.shape, np.uint8), hole, options)
    except UserError as exc:
        raise ApiError(422, str(exc), {"field": "mask"}) from None
    plain = json.loads(json.dumps(planned.to_dict(), default=int))  # window corners may be numpy integers
    return {**plain, "trained_size": inpainter.train_size}


@router.get("/api/v1/jobs/{job_id}", summary="Progress of a fill: windows done out of total")
def job_progress(request: Request, job_id: str) -> dict[str, Any]:
    return _state(request).jobs.get(job_id).to_dict()


@router.delete("/api/v1/jobs/{job_id}", summary="Cancel a fill (it stops before its next window)")
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    job = _state(request).jobs.get(job_id)
    job.cancelled.set()
    return job.to_dict()


# ------------------------------------------------------------------------------------------------ check
def _check(data: bytes, max_pixels: int, preview: bool) -> tuple[dict[str, Any], bytes | None]:
    source = U.decode(data, "image", max_pixels)
    try:
        P.split_image(source)  # the model's own rule for the modes it fills
    except UserError as exc:
        raise from_user_error(exc, "image") from None
    facts = {"format": source.format, "width": source.width, "height": source.height, "mode": source.mode}
    return {**facts, **U.exactness(source)}, encode_image(source, "PNG") if preview else None


async def _without_model(
    request: Request, upload: UploadFile, field: str, work: Callable[[bytes, int], Any], *, fill: bool = False
) -> Any:
    """Read one upload, reserve its memory from its header, and run ``work(data, max_pixels)`` off the event loop.

    ``fill``: the header checks of a fill's image (``/api/v1/check`` answers what a fill would)."""
    state = _state(request)
    data = await upload.read()
    head = U.header(data, field, state.max_pixels, fill=fill)
    memory = U.reserve(state.budget, state.queue, [head], U.CHECK_BYTES_PER_PIXEL)
    try:
        return await run_in_threadpool(work, data, state.max_pixels)
    finally:
        memory.release()


async def _checked(request: Request, image: UploadFile, preview: bool) -> tuple[dict[str, Any], bytes | None]:
    return await _without_model(request, image, "image", lambda data, limit: _check(data, limit, preview), fill=True)


@router.post(
    "/api/v1/check", summary="Check an image with the server's rules before painting", responses=ERROR_RESPONSES
)
async def check(
    request: Request, image: Annotated[UploadFile, File(description="the photo to check")]
) -> dict[str, Any]:
    """Decode the upload as a fill would and say what the answer keeps exactly; the same 4xx as a fill."""
    facts, _ = await _checked(request, image, preview=False)
    return facts


@router.post(
    "/api/v1/preview",
    summary="The image as PNG, for browsers that cannot show its format (TIFF)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **ERROR_RESPONSES},
)
async def preview(request: Request, image: Annotated[UploadFile, File(description="the photo")]) -> Response:
    _, png = await _checked(request, image, preview=True)
    return Response(png, media_type="image/png")


@router.post(
    "/api/v1/mask",
    summary="How the server reads a mask file: the holes as a black/white PNG (white = hole)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **ERROR_RESPONSES},
)
async def read_mask(request: Request, mask: Annotated[UploadFile, File(description="a mask image")]) -> Response:
    """The page loads mask files through this, so that colours, alpha and 0/1 masks read as in a fill."""
    png = await _without_model(request, mask, "mask", _mask_png)
    return Response(png, media_type="image/png")


def _mask_png(data: bytes, max_pixels: int) -> bytes:
    image = U.decode(data, "mask", max_pixels)
    try:
        hole = P.normalize_mask(image)
    except UserError as exc:
        raise ApiError(422, str(exc), {"field": "mask"}) from None
    return encode_image(Image.fromarray(hole.astype(np.uint8) * 255), "PNG")


# ------------------------------------------------------------------------------------------------ facts, page
def model_summary(inpainter: Inpainter) -> dict[str, Any]:
    """Name, width and training facts of the loaded model, from its contract."""
    contract = inpainter.contract
    return {
        "name": inpainter.name,
        "cnum": inpainter.generator.config.cnum,
        "contract": contract.to_dict(),
        # image_size falls back to the contract's assumption (256) so the page can always size its warning.
        "training": {"image_size": contract.trained_size, "mask_type": contract.mask_type or None},
    }


@router.get("/api/v1/health", summary="Model and server facts, the fill options and their bounds")
def health(request: Request) -> dict[str, Any]:
    state = _state(request)
    return {
        "status": "ok",
        "version": __version__,
        "model": model_summary(state.inpainter),
        "strategies": list(STRATEGIES),
        "options": OPTIONS,
        "defaults": {name: o["default"] for name, o in OPTIONS.items()},
        "limits": {
            "max_upload_bytes": state.max_upload_bytes,
            "max_pixels": state.max_pixels,
            "memory_budget_bytes": state.budget.total,
            "queue_capacity": state.queue.capacity,
        },
        "queue": {"in_progress": state.queue.admitted},
        "features": {
            "select": {
                "available": selection.available(),
                "missing": None if selection.available() else selection.MISSING,
            },
            "explain": {"keep": state.explanations.max_items},
        },
        "messages": {"empty_mask": EMPTY_MASK},
    }


@router.get("/", include_in_schema=False)
def page() -> Response:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/docs", include_in_schema=False)
def docs() -> Response:
    """The API reference, rendered by our own script from /openapi.json (no CDN: works offline)."""
    return FileResponse(STATIC_DIR / "docs.html", headers={"Cache-Control": "no-cache"})
