"""The HTTP API and the web painter (``gmcnn serve``); needs the ``[web]`` extra (FastAPI, uvicorn)."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `gmcnn serve` can say which extra is missing instead of failing at import.
    if name == "create_app":
        from gmcnn.web.app import create_app

        return create_app
    raise AttributeError(name)
