"""The HTTP API and the web painter: ``create_app(inpainter) -> FastAPI``.

Routes:

* ``GET /`` — the painter page (``static/index.html``; its scripts and styles are served from the package
  under ``/static``, never from the working directory or a CDN);
* ``POST /api/v1/inpaint`` — multipart ``image`` + ``mask`` (white / non-zero = hole, same size as the image)
  and optional ``strategy``, ``process_size``, ``grow``, ``feather``; answers the filled image in the
  upload's format (PNG -> PNG, JPEG -> JPEG, WEBP -> WEBP, ...). Pixels outside the mask (grown by ``grow``,
  widened by ``feather``) are byte-identical for lossless formats;
* ``GET /api/v1/health`` — the model (name, width, what it was trained on) and the server's limits;
* ``/docs`` and ``/openapi.json`` — the API reference.

Errors are JSON ``{"error": "<one line>", "detail": ...}`` with a 4xx status for anything the client can fix
(never a 5xx for bad input). The model runs on one worker thread behind a bounded queue: at most
``queue_size`` requests wait while one runs; beyond that the server answers 503 with ``Retry-After``
instead of piling up work and memory. Every request gets its own result: jobs share nothing but the model.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import numpy as np
from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gmcnn.errors import ImageTooLarge, UnsupportedImage, UserError
from gmcnn.inpainting.image import normalize_mask
from gmcnn.inpainting.options import STRATEGIES, FillOptions
from gmcnn.inpainting.pipeline import Inpainter
from gmcnn.io import MAX_PIXELS, decode_image, encode_image
from gmcnn.version import __version__

DEFAULT_MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a 12 MP PNG is ~20-35 MB; image + mask in one request
DEFAULT_QUEUE_SIZE = 4
FILL_SCHEMA = FillOptions.schema()  # the form fields, their bounds and /api/v1/health's "options" come from here
STATIC_DIR = Path(__file__).parent / "static"  # inside the package, never the working directory
# The page loads only its own files; blob:/data: for the images it shows. /docs keeps FastAPI's own page.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


class ApiError(Exception):
    """An error answered as ``{"error": message, "detail": detail}`` with ``status``."""

    def __init__(self, status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers


class ErrorBody(BaseModel):
    """Every error the API answers (4xx for bad input, 503 when the queue is full)."""

    error: str
    detail: Any = None


def _error_response(status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


class _UploadTooLarge(HTTPException):
    """Raised from inside body reading; FastAPI re-raises its HTTPExceptions, so our handler answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload is larger than the limit of {limit:,} bytes")


class UploadLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` (by Content-Length first, then while streaming).

    Checked before FastAPI parses the multipart body, so a huge upload is never spooled to disk whole.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            response = _error_response(
                413, f"the upload is {int(length):,} bytes, more than the limit of {self.max_bytes:,}"
            )
            await response(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _UploadTooLarge(self.max_bytes)
            return message

        await self.app(scope, limited_receive, send)


class SameOriginOnly:
    """ASGI middleware: refuse state-changing requests sent by other web sites.

    No CORS headers are ever sent, so other origins cannot read answers; this also stops them from making a
    visitor's browser *send* work (a cross-site form POST needs no CORS permission).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if origin and (origin == "null" or urlsplit(origin).netloc != host):
                response = _error_response(403, f"cross-origin requests are refused (Origin {origin}, Host {host})")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class ModelQueue:
    """One worker thread runs the model; at most ``size`` admitted requests wait while one runs.

    A request takes a slot with :meth:`admit` *before* it decodes anything (so a flood never holds more than
    ``capacity`` decoded images) and gives it back when its model call has finished — or when it fails before
    reaching the model.
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"queue_size must be >= 0, got {size}")
        self.capacity = size + 1  # the one running + the waiting ones
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gmcnn-model")
        self._lock = threading.Lock()
        self._admitted = 0
        self._mean_seconds = 1.0  # moving average of model calls, for Retry-After

    @property
    def admitted(self) -> int:
        return self._admitted

    def admit(self) -> Slot:
        with self._lock:
            if self._admitted >= self.capacity:
                wait = max(1, math.ceil(self._mean_seconds * self._admitted))
                raise ApiError(
                    503,
                    f"the server is busy ({self._admitted} requests in progress); retry in about {wait} s",
                    {"queue_capacity": self.capacity, "retry_after_s": wait},
                    headers={"Retry-After": str(wait)},
                )
            self._admitted += 1
        return Slot(self)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, slot: Slot, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model thread; the slot is freed when it ends (even if this request is cancelled)."""

        def timed() -> Any:
            start = time.perf_counter()
            try:
                return fn()
            finally:
                self._mean_seconds = 0.7 * self._mean_seconds + 0.3 * (time.perf_counter() - start)

        future: Future[Any] = self._executor.submit(timed)
        slot.handed_over = True
        future.add_done_callback(lambda _: slot.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class Slot:
    """A place in the :class:`ModelQueue`; released exactly once."""

    def __init__(self, queue: ModelQueue) -> None:
        self._queue = queue
        self._released = False
        self.handed_over = False  # once the job is on the model thread, its completion releases the slot

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._queue._release()


def _decode(data: bytes, field: str, max_pixels: int) -> Image.Image:
    if not data:
        raise ApiError(422, f"the '{field}' upload is empty (0 bytes)", {"field": field})
    try:
        return decode_image(data, name=f"'{field}'", max_pixels=max_pixels)
    except ImageTooLarge as exc:
        raise ApiError(413, str(exc), {"field": field}) from None
    except UnsupportedImage as exc:
        raise ApiError(415, str(exc), {"field": field}) from None
    except UserError as exc:  # a supported format that is damaged or truncated
        raise ApiError(400, str(exc), {"field": field}) from None


def _media_type(fmt: str) -> str:
    return Image.MIME.get(fmt.upper(), "application/octet-stream")


def _form(name: str) -> Any:
    """The HTTP form field of fill option ``name``: bounds and help from :class:`FillOptions`, nothing restated."""
    entry = FILL_SCHEMA[name]
    extra = {"enum": entry["choices"]} if "choices" in entry else None
    return Form(ge=entry.get("minimum"), le=entry.get("maximum"), description=entry["help"], json_schema_extra=extra)


def model_summary(inpainter: Inpainter) -> dict[str, Any]:
    """Name, width and training facts of the loaded model, from its export metadata."""
    meta = inpainter.meta
    training = meta.get("training") or {}
    return {
        "name": inpainter.name,
        "cnum": (meta.get("config") or {}).get("cnum"),
        "contract": inpainter.contract.to_dict(),
        # image_size falls back to the Inpainter's assumption (256) so the page can always size its warning.
        "training": {"image_size": inpainter.train_size, "mask_type": training.get("mask_type")},
    }


def create_app(
    inpainter: Inpainter,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    queue_size: int = DEFAULT_QUEUE_SIZE,
) -> FastAPI:
    """Build the app around a loaded model (load it once, e.g. ``Inpainter.from_pretrained()``).

    Args:
        inpainter: the loaded model; it is called from one worker thread only.
        max_upload_bytes: largest request body (image + mask + fields); larger ones get 413.
        max_pixels: largest image (and mask) in pixels; larger ones get 413.
        queue_size: requests that may wait while one runs; more get 503 with ``Retry-After``.
    """
    queue = ModelQueue(queue_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        queue.close()

    app = FastAPI(
        title="gmcnn",
        version=__version__,
        description=(
            "Image inpainting with GMCNN. Send an image and a mask (white = hole, same size) to "
            "`POST /api/v1/inpaint`; the filled image comes back in the upload's format. Errors are JSON "
            "`{error, detail}` with a 4xx status; 503 with `Retry-After` when the queue is full."
        ),
        lifespan=lifespan,
    )
    app.state.queue = queue
    app.add_middleware(UploadLimit, max_bytes=max_upload_bytes)
    app.add_middleware(SameOriginOnly)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return _error_response(exc.status, exc.message, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
            problems.append(f"'{where}': {err.get('msg', 'invalid')}")
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
        return _error_response(422, "invalid request: " + "; ".join(problems), detail)

    @app.exception_handler(Exception)
    async def server_error(_: Request, exc: Exception) -> Response:
        # A bug or an exhausted machine, not the client's fault: still JSON, so the page can show it.
        return _error_response(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _error_response(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))

    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": text}
        for code, text in {
            400: "damaged image or mask",
            403: "cross-origin request",
            413: "upload or image too large",
            415: "not an image, or a format gmcnn does not read",
            422: "missing or invalid field, size mismatch, empty mask",
            503: "queue full; retry after the `Retry-After` seconds",
        }.items()
    }
    image_types: dict[str, Any] = {t: {} for t in ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/tiff")}

    @app.post(
        "/api/v1/inpaint",
        summary="Fill the masked part of an image",
        response_class=Response,
        responses={200: {"content": image_types, "description": "the filled image, in the upload's format"}, **errors},
    )
    async def inpaint(
        image: Annotated[UploadFile, File(description="the photo (PNG, JPEG, WEBP, BMP or TIFF)")],
        mask: Annotated[UploadFile, File(description="same size as the image; white / non-zero = hole")],
        strategy: Annotated[str, _form("strategy")] = FILL_SCHEMA["strategy"]["default"],
        process_size: Annotated[int | None, _form("process_size")] = None,
        grow: Annotated[int, _form("grow")] = FILL_SCHEMA["grow"]["default"],
        feather: Annotated[int, _form("feather")] = FILL_SCHEMA["feather"]["default"],
        margin: Annotated[float | None, _form("margin")] = None,
        texture: Annotated[str, _form("texture")] = FILL_SCHEMA["texture"]["default"],
    ) -> Response:
        if strategy not in STRATEGIES:
            raise ApiError(422, f"unknown strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
        slot = queue.admit()
        try:
            image_bytes, mask_bytes = await image.read(), await mask.read()
            source, hole = await run_in_threadpool(_prepare, image_bytes, mask_bytes, max_pixels)

            def fill() -> tuple[Any, dict[str, Any]]:
                options = FillOptions.from_kwargs(
                    strategy=strategy,
                    process_size=process_size,
                    grow=grow,
                    feather=feather,
                    margin=margin,
                    texture=texture,
                )
                done = inpainter.fill(source, hole, options)
                return done.image, done.info()

            try:
                result, info = await queue.run(slot, fill)
            except UserError as exc:  # e.g. an image mode the model cannot fill
                raise ApiError(422, str(exc)) from None
            fmt = source.format or "PNG"  # decode_image always sets it
            body = await run_in_threadpool(encode_image, result, fmt, like=source)
        finally:
            if not slot.handed_over:
                slot.release()
        headers = {"X-Gmcnn-Strategy": str(info.get("strategy", strategy))}
        if "seconds" in info:
            headers["X-Gmcnn-Seconds"] = f"{float(info['seconds']):.3f}"
        return Response(body, media_type=_media_type(fmt), headers=headers)

    @app.get("/api/v1/health", summary="Model and server facts")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "version": __version__,
            "model": model_summary(inpainter),
            "strategies": list(STRATEGIES),
            "options": FILL_SCHEMA,
            "defaults": {name: entry["default"] for name, entry in FILL_SCHEMA.items()},
            "limits": {
                "max_upload_bytes": max_upload_bytes,
                "max_pixels": max_pixels,
                "queue_capacity": queue.capacity,
                "process_size": [FILL_SCHEMA["process_size"]["minimum"], FILL_SCHEMA["process_size"]["maximum"]],
                "grow": FILL_SCHEMA["grow"]["maximum"],
                "feather": FILL_SCHEMA["feather"]["maximum"],
            },
            "queue": {"in_progress": queue.admitted},
        }

    @app.get("/", include_in_schema=False)
    def page() -> Response:
        headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"}
        return FileResponse(STATIC_DIR / "index.html", headers=headers)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app


def _prepare(image_bytes: bytes, mask_bytes: bytes, max_pixels: int) -> tuple[Image.Image, np.ndarray]:
    """Decode and check an (image, mask) upload pair; ``ApiError`` with the right status otherwise."""
    source = _decode(image_bytes, "image", max_pixels)
    mask_image = _decode(mask_bytes, "mask", max_pixels)
    if mask_image.size != source.size:
        (iw, ih), (mw, mh) = source.size, mask_image.size
        raise ApiError(
            422,
            f"the mask is {mw}x{mh} but the image is {iw}x{ih}; they must be the same size",
            {"image_size": [iw, ih], "mask_size": [mw, mh]},
        )
    try:
        hole = normalize_mask(mask_image, size=(source.height, source.width))
    except UserError as exc:
        raise ApiError(422, str(exc), {"field": "mask"}) from None
    if not hole.any():
        raise ApiError(422, "the mask is empty: paint the part to fill in white (non-zero) and send it again")
    return source, hole
