"""The HTTP API and the web painter (``gmcnn serve``); needs the ``[web]`` extra (FastAPI, uvicorn)."""

from gmcnn.web.app import create_app

__all__ = ["create_app"]
