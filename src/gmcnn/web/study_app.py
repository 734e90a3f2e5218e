"""The judging page of a blind preference study (``gmcnn study serve``): a small app of its own.

It serves the pair pictures and records judgements; it never opens ``key.json`` (the pair list comes from the
``pairs/`` folder), so nothing it sends can tell a judge which method is which. Routes:

* ``GET /`` — the page (``static/study/``: one ES module and a style sheet from the package);
* ``GET /pairs/{pair}.png`` — a pair picture;
* ``GET /api/v1/study`` — the pair numbers, the picture layout (panel size, gap, title strip) and the
  confidence levels;
* ``GET /api/v1/judges/{judge}`` — that judge's judgements so far and the next pair;
* ``POST /api/v1/judges/{judge}/judgements`` — JSON ``{"pair", "choice", "confidence", "seconds"?}``: append
  one (409 when the pair is judged already);
* ``POST /api/v1/judges/{judge}/undo`` — remove the judge's last judgement.

Judgements go to ``judgements/<judge>.jsonl`` (the format of :mod:`gmcnn.evaluation.study`) before the answer.
The painter's middleware guards it (Host check, same-origin POSTs, CSP, size limit).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from PIL import Image

from gmcnn.errors import UserError
from gmcnn.evaluation.study import (
    CONFIDENCE,
    GAP,
    HEADER,
    PAIRS_DIR,
    Judgement,
    JudgementLog,
    pair_ids,
    parse_judgement,
)
from gmcnn.version import __version__
from gmcnn.web.errors import ApiError, install_error_handlers
from gmcnn.web.middleware import install_middleware

STATIC_DIR = Path(__file__).parent / "static" / "study"  # inside the package, never the working directory
T = TypeVar("T")
MAX_BODY = 64 * 1024  # a judgement is a few dozen bytes


class _Study:
    """The served study: its folder, pair numbers and one log per judge (each with its own lock)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pairs = pair_ids(root)
        with Image.open(root / PAIRS_DIR / f"{self.pairs[0]}.png") as first:
            width, height = first.size
        self.layout = {"width": width, "height": height, "panel_width": (width - 2 * GAP) // 3,
                       "panel_height": height - HEADER, "gap": GAP, "header": HEADER}  # fmt: skip
        self._logs: dict[str, JudgementLog] = {}
        self._lock = threading.Lock()  # one log (and so one file lock) per judge, even under concurrent requests

    def log(self, judge: str) -> JudgementLog:
        with self._lock:
            if judge not in self._logs:
                try:
                    self._logs[judge] = JudgementLog(self.root, judge, self.pairs)
                except UserError as exc:
                    raise ApiError(422, str(exc)) from None
            return self._logs[judge]

    def state(self, log: JudgementLog, judged: list[Judgement]) -> dict[str, Any]:
        return {
            "judged": [{"pair": j.pair, "choice": j.choice, "confidence": j.confidence} for j in judged],
            "next": log.next_pair(judged),
            "done": len(judged),
            "total": len(self.pairs),
        }


router = APIRouter()


def _study(request: Request) -> _Study:
    study: _Study = request.app.state.study
    return study


def _conflict(call: Callable[[], T]) -> T:
    """Run a log operation; a ``UserError`` (pair judged already, a file edited into something invalid) is 409."""
    try:
        return call()
    except UserError as exc:
        raise ApiError(409, str(exc)) from None


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/pairs/{name}")
def picture(name: str, request: Request) -> FileResponse:
    study = _study(request)
    pair = name.removesuffix(".png")
    if not name.endswith(".png") or pair not in study.pairs:
        raise ApiError(404, f"no pair picture {name!r}")
    return FileResponse(study.root / PAIRS_DIR / f"{pair}.png", media_type="image/png")


@router.get("/api/v1/study")
def describe(request: Request) -> dict[str, Any]:
    study = _study(request)
    return {"pairs": study.pairs, "layout": study.layout, "confidence": {str(k): v for k, v in CONFIDENCE.items()}}


@router.get("/api/v1/judges/{judge}")
def judge_state(judge: str, request: Request) -> dict[str, Any]:
    study = _study(request)
    log = study.log(judge)
    return study.state(log, _conflict(log.read))


@router.post("/api/v1/judges/{judge}/judgements")
async def judge_pair(judge: str, request: Request) -> dict[str, Any]:
    study = _study(request)
    log = study.log(judge)
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(422, 'the body must be JSON: {"pair", "choice", "confidence"}') from None
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "time"}  # the server stamps the time itself
    try:
        judgement = parse_judgement(body, set(study.pairs))
    except UserError as exc:
        raise ApiError(422, str(exc)) from None
    return study.state(log, _conflict(lambda: log.add(judgement)))


@router.post("/api/v1/judges/{judge}/undo")
def undo(judge: str, request: Request) -> dict[str, Any]:
    study = _study(request)
    log = study.log(judge)
    rest, removed = _conflict(log.undo)
    state = study.state(log, rest)
    state["undone"] = None if removed is None else removed.pair
    return state


def create_study_app(root: str | Path, *, allowed_hosts: list[str] | tuple[str, ...] = ()) -> FastAPI:
    """The judging app for the study folder ``root`` (only ``pairs/`` and ``judgements/`` are used)."""
    study = _Study(Path(root))
    app = FastAPI(title="gmcnn study", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.study = study
    install_middleware(app, max_upload_bytes=MAX_BODY, allowed_hosts=allowed_hosts)
    install_error_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app


__all__ = ["create_study_app"]
