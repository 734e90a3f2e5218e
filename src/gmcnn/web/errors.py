"""Every error the API answers: JSON ``{"error": "<one line>", "detail": ...}`` with the right status.

4xx for anything the client can fix (never a 5xx for bad input), 503 with ``Retry-After`` when the server is
busy, 500 only for a bug or an exhausted machine (still JSON, so the page can show it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from gmcnn.errors import FullMask, ImageTooLarge, UnsupportedImage, UserError


class ApiError(Exception):
    """An error answered as ``{"error": message, "detail": detail}`` with ``status``."""

    def __init__(self, status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail
        self.headers = headers


class ErrorBody(BaseModel):
    """Every error the API answers (4xx for bad input, 503 when the server is busy)."""

    error: str
    detail: Any = None


class UploadTooLarge(HTTPException):
    """Raised from inside body reading; FastAPI re-raises its HTTPExceptions, so our handler answers it."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the upload is larger than the limit of {limit:,} bytes")


class BodyTimeout(HTTPException):
    """Raised from inside body reading when no part of the body arrived for ``seconds``."""

    def __init__(self, seconds: float) -> None:
        # "Connection: close": the rest of the body may still come; the connection cannot serve another request.
        super().__init__(408, f"no part of the request body arrived for {seconds:g} s", {"Connection": "close"})


# For the OpenAPI description of every route that takes an upload.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        400: "damaged or truncated image or mask, or a Host this server does not answer to",
        403: "cross-origin request",
        408: "the request body stopped arriving",
        409: "the fill was cancelled",
        413: "upload or image too large",
        415: "not an image, or a format gmcnn does not read",
        422: "missing or invalid field, size mismatch, empty mask",
        503: "queue or memory budget full; retry after the `Retry-After` seconds",
    }.items()
}


def error_response(status: int, message: str, detail: Any = None, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": message, "detail": detail}, status_code=status, headers=headers)


def from_user_error(exc: UserError, field: str) -> ApiError:
    """Map the typed errors to their status: too large 413, not an image 415, a mask over the whole image 422,
    damaged 400."""
    if isinstance(exc, ImageTooLarge):
        return ApiError(413, str(exc), {"field": field})
    if isinstance(exc, UnsupportedImage):
        return ApiError(415, str(exc), {"field": field})
    if isinstance(exc, FullMask):  # a mask to paint again, not a damaged upload
        return ApiError(422, str(exc), {"field": "mask"})
    return ApiError(400, str(exc), {"field": field})


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.detail, exc.headers)


async def _invalid_request(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        problems.append(f"'{where}': {err.get('msg', 'invalid')}")
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()]
    return error_response(422, "invalid request: " + "; ".join(problems), detail)


async def _server_error(_: Request, exc: Exception) -> Response:
    # A bug or an exhausted machine, not the client's fault: still JSON, so the page can show it.
    return error_response(500, f"internal error: {type(exc).__name__}: {exc}")


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as JSON ``{error, detail}``."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)
