""" "How it was filled" over HTTP: the pictures a fill sent with ``explain=true`` left behind, kept a while.

A fill with ``explain=true`` keeps its :class:`~gmcnn.inpainting.explain.Explanation` pictures here, in memory,
under its job id (the ``job`` form field, or one the server makes and answers in ``X-Gmcnn-Job``): the newest
``max_items`` fills, within ``max_bytes``. Then

* ``GET /api/v1/jobs/{id}/explain`` describes them: the stages in order with their times, the layers
  (``sources``, ``confidence``), what each shows in one sentence, and each picture's URL;
* ``GET /api/v1/jobs/{id}/explain/{name}.png`` serves one picture (encoded on first request, then kept).

Everything comes from the fill that made the result; nothing is filled again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

from gmcnn.io import encode_image
from gmcnn.web.errors import ApiError
from gmcnn.web.middleware import refuse_unknown_fields

DEFAULT_KEEP = 8  # fills whose pictures are kept
DEFAULT_KEEP_BYTES = 256 * 2**20  # at 18 bytes per pixel (six RGB pictures): about 14 MP of fills


@dataclass
class Kept:
    """One fill's explanation: its description and its pictures (uint8 ``H x W x 3``), PNGs once asked for."""

    description: dict[str, Any]
    pictures: dict[str, np.ndarray]
    pngs: dict[str, bytes] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.pictures.values()) + sum(len(b) for b in self.pngs.values())


class Explanations:
    """The newest fills' explanations by job id, bounded in count and bytes (the oldest go first)."""

    def __init__(self, max_items: int = DEFAULT_KEEP, max_bytes: int = DEFAULT_KEEP_BYTES) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, job: str, description: dict[str, Any], pictures: dict[str, np.ndarray]) -> bool:
        """Keep one fill's pictures; False when they alone are larger than the whole budget (not kept)."""
        kept = Kept(description, pictures)
        if kept.nbytes > self.max_bytes:
            return False
        with self._lock:
            self._kept[job] = kept
            self._trim()
        return True

    def get(self, job: str) -> Kept:
        with self._lock:
            kept = self._kept.get(job)
        if kept is None:
            raise ApiError(
                404,
                f"no explanation for job {job!r}: send the fill with explain=true; the server keeps the pictures "
                f"of the last {self.max_items} such fills only",
                {"job": job},
            )
        return kept

    def png(self, job: str, name: str) -> bytes:
        """One picture as PNG (encoded once)."""
        kept = self.get(job)
        if name not in kept.pictures:
            raise ApiError(404, f"job {job!r} has no picture {name!r}; it has {sorted(kept.pictures)}", {"job": job})
        if name not in kept.pngs:
            kept.pngs[name] = encode_image(Image.fromarray(kept.pictures[name]), "PNG")
            with self._lock:
                self._trim()
        return kept.pngs[name]

    def _trim(self) -> None:
        while len(self._kept) > self.max_items or (
            len(self._kept) > 1 and sum(k.nbytes for k in self._kept.values()) > self.max_bytes
        ):
            self._kept.popitem(last=False)


def describe(job: str, description: dict[str, Any], *, model: str, size: tuple[int, int]) -> dict[str, Any]:
    """The JSON of ``GET /api/v1/jobs/{id}/explain``: the explanation's own description plus picture URLs."""
    base = f"/api/v1/jobs/{job}/explain"
    stages = [{**s, "url": f"{base}/{s['picture']}.png"} for s in description["stages"]]
    layers = {name: {**layer, "url": f"{base}/{layer['picture']}.png"} for name, layer in description["layers"].items()}
    return {"job": job, "model": model, "width": size[0], "height": size[1], "stages": stages, "layers": layers}


router = APIRouter(dependencies=[Depends(refuse_unknown_fields)])  # no fields or query parameters


@router.get("/api/v1/jobs/{job_id}/explain", summary="How a fill sent with explain=true was filled: stages, layers")
def explanation(request: Request, job_id: str) -> dict[str, Any]:
    return request.app.state.gmcnn.explanations.get(job_id).description  # type: ignore[no-any-return]


@router.get(
    "/api/v1/jobs/{job_id}/explain/{name}.png",
    summary="One picture of how a fill was filled (a stage, sources or confidence)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def explanation_picture(request: Request, job_id: str, name: str) -> Response:
    store: Explanations = request.app.state.gmcnn.explanations
    png = await run_in_threadpool(store.png, job_id, name)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})
