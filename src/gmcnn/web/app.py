"""The HTTP API and the web painter: ``create_app(inpainter) -> FastAPI``.

Routes (:mod:`gmcnn.web.routes`):

* ``GET /`` — the painter page (``static/``: ES modules and styles served from the package, never a CDN);
* ``POST /api/v1/inpaint`` — multipart ``image`` + ``mask`` (white / non-zero = hole, same size), every
  :class:`~gmcnn.inpainting.options.FillOptions` field (one dependency, :mod:`gmcnn.web.form`), ``output``
  (``same`` | ``png``), an optional ``job`` id and ``explain``; answers the filled image in the upload's format.
  Pixels outside the mask (grown by ``grow``, widened by ``feather``) are byte-identical for lossless formats;
* ``POST /api/v1/plan`` — the fill plan of a mask with the same options;
* ``GET /api/v1/jobs/{id}`` (windows done / total) and ``DELETE /api/v1/jobs/{id}`` (cancel);
* ``POST /api/v1/check`` — the server's verdict on an image before painting; ``POST /api/v1/preview`` — it as PNG;
* ``GET /api/v1/health`` — the model, the fill options with their bounds, and the server's limits;
* ``/docs`` (rendered offline from) ``/openapi.json`` — the API reference;
* ``/api/v1/models`` ... — the model picker: list, switch, download a release (:mod:`gmcnn.web.models_routes`);
* ``GET /api/v1/jobs/{id}/explain[/{name}.png]`` — how an ``explain=true`` fill was filled
  (:mod:`gmcnn.web.explain_routes`); ``POST /api/v1/select`` — smart select (:mod:`gmcnn.web.select_routes`).

Errors (:mod:`gmcnn.web.errors`) are JSON ``{"error", "detail"}``, 4xx for anything the client can fix.
What bounds the work (:mod:`gmcnn.web.queue`): one model thread behind a bounded queue, and a server-wide
budget of working memory reserved from the image headers before anything is decoded and from the fill's
plan before the model runs (:mod:`gmcnn.web.uploads`, :mod:`gmcnn.inpainting.memory`). Middleware
(:mod:`gmcnn.web.middleware`): body size and stalls, Host (DNS rebinding), Origin, HEAD, and security headers on
every answer; every API route refuses form fields and query parameters it does not declare.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gmcnn.inpainting.pipeline import Inpainter
from gmcnn.io import MAX_PIXELS
from gmcnn.version import __version__
from gmcnn.web import explain_routes, select_routes
from gmcnn.web.errors import install_error_handlers
from gmcnn.web.limits import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MEMORY_BUDGET, DEFAULT_QUEUE_SIZE
from gmcnn.web.middleware import install_middleware
from gmcnn.web.models_routes import install_models
from gmcnn.web.queue import Jobs, MemoryBudget, ModelQueue
from gmcnn.web.routes import STATIC_DIR, ServerState, router

DESCRIPTION = (
    "Image inpainting with GMCNN. Send an image and a mask (white = hole, same size) to `POST /api/v1/inpaint`; "
    "the filled image comes back in the upload's format. Errors are JSON `{error, detail}` with a 4xx status; "
    "503 with `Retry-After` when the queue or the memory budget is full."
)


def create_app(
    inpainter: Inpainter,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    queue_size: int = DEFAULT_QUEUE_SIZE,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    allowed_hosts: Iterable[str] = (),
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    models_dir: str | os.PathLike[str] | None = None,
    download_url: str | None = None,
) -> FastAPI:
    """Build the app around a loaded model (load it once, e.g. ``Inpainter.from_pretrained()``).

    Args:
        inpainter: the loaded model; it is called from one worker thread only.
        max_upload_bytes: largest request body (image + mask + fields); larger ones get 413.
        max_pixels: largest image (and mask) in pixels; larger ones get 413.
        queue_size: requests that may wait while one runs; more get 503 with ``Retry-After``.
        memory_budget: bytes of working memory for the images in flight; a request that needs more than
            all of it gets 413, one that does not fit while others run gets 503.
        allowed_hosts: host names (besides ``localhost`` and IP addresses) the server answers to.
        body_timeout: seconds a request body may stall before the server answers 408 and closes the connection.
        models_dir: the models folder the page may pick from and download official releases into (``None``:
            only the embedded model and the one being served; no downloads).
        download_url: URL template (``{id}`` = the Drive file id) downloads come from instead of the authors' links.
    """
    queue = ModelQueue(queue_size)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        queue.close()

    app = FastAPI(
        title="gmcnn", version=__version__, description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.queue = queue
    app.state.gmcnn = ServerState(
        inpainter=inpainter,
        queue=queue,
        budget=MemoryBudget(memory_budget),
        jobs=Jobs(),
        max_upload_bytes=max_upload_bytes,
        max_pixels=max_pixels,
    )
    install_middleware(app, max_upload_bytes=max_upload_bytes, allowed_hosts=allowed_hosts, body_timeout=body_timeout)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(explain_routes.router)
    app.include_router(select_routes.router)
    install_models(app, inpainter, models_dir, download_url)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
