"""The model picker's API: the models on offer, switching the served model, downloading an official release.

* ``GET /api/v1/models`` — ``{"models": [{name, description, kind, loaded, available, downloadable, size,
  download}], "current": name}``: the embedded model, every official release, and what the server's models
  folder (``gmcnn serve --models DIR``) holds (:mod:`gmcnn.weights.catalog`); ``download`` is the progress of a
  download of that release, if one ran.
* ``POST /api/v1/models/select {"name"}`` — serve another model. It loads *on the model thread*, so no fill runs
  while the model changes: fills admitted before it finish with the old model, later ones use the new one.
  Loading needs the new model's weights beside the old ones for a moment; that memory is reserved in the
  server's memory budget like a fill's (413 when it can never fit, 503 with ``Retry-After`` when it does not fit
  now). Answers the new model's facts, as ``/api/v1/health`` shows them.
* ``POST /api/v1/models/download {"name"}`` — start downloading an official release into the models folder, in
  the background (202); ``GET /api/v1/models/download/{name}`` — its progress: ``{"state": "downloading" |
  "verifying" | "done" | "failed", "done", "total", "error"}``. One download at a time; nothing downloads
  unless asked, and never without a models folder. Downloads come from the authors' links, or from the URL
  template the server was given (tests: a local server).
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse

from gmcnn.errors import UserError
from gmcnn.inpainting.pipeline import Inpainter
from gmcnn.web.errors import ApiError
from gmcnn.web.middleware import refuse_unknown_fields
from gmcnn.web.routes import ServerState, model_summary
from gmcnn.weights.catalog import ModelInfo, catalog, find, weights_bytes
from gmcnn.weights.install import install, release

# Loading a model holds about this many times its weights at the peak (file read, float32 copy, the module, its
# fused twin; measured 3.7x for the Places2 release on CPU), plus the runtime's own start-up.
LOAD_FACTOR = 4
LOAD_FIXED_BYTES = 64 * 2**20

router = APIRouter(dependencies=[Depends(refuse_unknown_fields)])
NameBody = Annotated[str, Body(embed=True, description="a model name from GET /api/v1/models")]


@dataclass
class DownloadJob:
    """One release's download, as the page polls it."""

    name: str
    state: str = "downloading"  # downloading -> verifying -> done | failed
    done: int = 0
    total: int | None = None
    error: str | None = None

    def progress(self, stage: str, done: int, total: int | None) -> None:
        self.state = "downloading" if stage == "download" else "verifying"
        self.done, self.total = done, total

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "done": self.done, "total": self.total, "error": self.error}


@dataclass
class ModelsState:
    """The picker's parts: the models folder, where new models load, where downloads come from, the downloads."""

    folder: Path | None
    device: str
    download_url: str | None = None
    downloads: dict[str, DownloadJob] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running(self) -> DownloadJob | None:
        return next((j for j in self.downloads.values() if j.state in ("downloading", "verifying")), None)


def load_model(name: str, folder: Path | None, device: str) -> Inpainter:
    """The model called ``name`` in ``folder``'s catalogue, named so; else whatever ``from_pretrained`` takes."""
    model = find(catalog(folder), name) if folder is not None else None
    if model is None or model.path is None:
        return Inpainter.from_pretrained(name, device=device)
    loaded = Inpainter.from_pretrained(model.path, device=device)
    loaded.name = model.name
    return loaded


def install_models(app: Any, inpainter: Any, models_dir: Any, download_url: str | None) -> None:
    """Give ``app`` the picker: its state and these routes."""
    device = getattr(getattr(inpainter, "runner", None), "device", "auto")
    folder = Path(models_dir) if models_dir is not None else None
    app.state.gmcnn_models = ModelsState(folder, str(device), download_url)
    app.include_router(router)


def _parts(request: Request) -> tuple[ServerState, ModelsState]:
    return request.app.state.gmcnn, request.app.state.gmcnn_models


def _offered(state: ServerState, models: ModelsState) -> tuple[list[ModelInfo], ModelInfo]:
    """The catalogue (plus the served model when it came from elsewhere, ``--model PATH``) and the served model."""
    offered = catalog(models.folder)
    name = state.inpainter.name
    served = Path(name).resolve() if Path(name).exists() else None  # loaded by path: the same files, same model
    for model in offered:
        if model.name == name or (served is not None and model.path is not None and model.path.resolve() == served):
            return offered, model
    current = ModelInfo(name, "the model the server was started with", "other", Path(name))
    return [*offered, current], current


def _model(offered: list[ModelInfo], name: str) -> ModelInfo:
    model = find(offered, name)
    if model is None:
        names = ", ".join(m.name for m in offered)
        raise ApiError(404, f"no model {name!r}; the models on offer are: {names}", {"name": name})
    return model


@router.get("/api/v1/models", summary="The models on offer and the one being served")
def list_models(request: Request) -> dict[str, Any]:
    state, models = _parts(request)
    offered, current = _offered(state, models)
    listed = []
    for m in offered:
        job = models.downloads.get(m.name)
        listed.append({**m.to_dict(), "loaded": m is current, "download": job.to_dict() if job else None})
    return {"models": listed, "current": current.name}


@router.post("/api/v1/models/select", summary="Serve another model (loads on the model thread, between fills)")
async def select_model(request: Request, name: NameBody) -> dict[str, Any]:
    state, models = _parts(request)
    offered, current = _offered(state, models)
    model = _model(offered, name)
    if model is current:
        return {"current": model.name, "changed": False, "model": model_summary(state.inpainter)}
    if model.path is None:
        hint = "POST /api/v1/models/download first" if model.downloadable else "start the server with --models DIR"
        raise ApiError(409, f"{model.name} is not downloaded: {hint}", {"name": model.name})
    try:
        cost = LOAD_FACTOR * weights_bytes(model.path) + LOAD_FIXED_BYTES
    except (OSError, UserError) as exc:
        raise ApiError(422, f"cannot read {model.name}: {exc}", {"name": model.name}) from None
    memory = state.budget.reserve(cost, f"loading {model.name}", state.queue.expected_wait(), {"name": model.name})
    slot = None
    try:
        slot = state.queue.admit()

        def switch() -> None:  # on the model thread: no fill runs meanwhile
            state.inpainter = load_model(model.name, models.folder, models.device)
            gc.collect()  # the old model's memory goes back before the next fill

        await state.queue.run(slot, switch)
    except (UserError, FileNotFoundError, ValueError) as exc:
        raise ApiError(422, f"cannot load {model.name}: {exc}", {"name": model.name}) from None
    finally:
        if slot is not None and not slot.handed_over:
            slot.release()
        memory.release()
    return {"current": model.name, "changed": True, "model": model_summary(state.inpainter)}


@router.post(
    "/api/v1/models/download",
    summary="Download an official release into the models folder (in the background)",
    status_code=202,
)
def start_download(request: Request, name: NameBody) -> JSONResponse:
    state, models = _parts(request)
    model = _model(_offered(state, models)[0], name)
    if model.kind != "release":
        raise ApiError(409, f"{model.name} is not an official release: only releases are downloaded", {"name": name})
    if models.folder is None:
        raise ApiError(409, "this server has no models folder to download into: start it with --models DIR")
    if model.available:
        return JSONResponse(DownloadJob(model.name, "done").to_dict(), status_code=200)
    with models.lock:
        running = models.running()
        if running is not None:
            if running.name == model.name:
                return JSONResponse(running.to_dict(), status_code=202)
            raise ApiError(409, f"{running.name} is downloading; one download at a time", running.to_dict())
        job = models.downloads[model.name] = DownloadJob(model.name)
    entry, folder = release(model.name), models.folder

    def work() -> None:
        try:
            install(entry, folder, url=models.download_url, progress=job.progress)
            job.state = "done"
        except Exception as exc:  # anything: the page shows it, the server goes on
            job.state, job.error = "failed", str(exc)

    threading.Thread(target=work, name=f"gmcnn-download-{model.name}", daemon=True).start()
    return JSONResponse(job.to_dict(), status_code=202)


@router.get("/api/v1/models/download/{name}", summary="Progress of a release's download")
def download_progress(request: Request, name: str) -> dict[str, Any]:
    state, models = _parts(request)
    model = _model(_offered(state, models)[0], name)
    job = models.downloads.get(model.name)
    if job is not None:
        return job.to_dict()
    if model.available:
        return DownloadJob(model.name, "done").to_dict()
    raise ApiError(404, f"no download of {model.name} has started", {"name": model.name})
