"""Talking to the HTTP API in tests: a local TestClient, uploads, the error shape, and a gated Inpainter."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from gmcnn import Inpainter


def local(app: Any, **kwargs: Any) -> TestClient:
    """A client that calls the app as http://127.0.0.1 (the server answers only its own hosts)."""
    return TestClient(app, base_url="http://127.0.0.1", **kwargs)


def hole(h: int = 96, w: int = 128) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[30:50, 40:90] = 255
    return m


def encode(array: np.ndarray, fmt: str = "PNG", **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def post(client: TestClient, image: bytes | None, mask: bytes | None, **fields: Any) -> Any:
    files = {}
    if image is not None:
        files["image"] = ("photo", image, "application/octet-stream")
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return client.post("/api/v1/inpaint", files=files, data={k: str(v) for k, v in fields.items()})


def assert_error(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    for word in words:
        assert word in body["error"], body["error"]
    return body


class Gate:
    """An Inpainter whose calls wait until the test opens the gate: fills the queue deterministically."""

    def __init__(self, inner: Inpainter) -> None:
        self.inner = inner
        self.opened = threading.Event()
        self.entered = threading.Event()

    def fill(self, image: Any, mask: Any, options: Any = None, **kwargs: Any) -> Any:
        self.entered.set()
        if not self.opened.wait(60):
            raise RuntimeError("the test never opened the gate")
        return self.inner.fill(image, mask, options, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Recording:
    """An Inpainter that notes the options of every fill it runs (what the server made of the form)."""

    def __init__(self, inner: Inpainter) -> None:
        self.inner = inner
        self.fills: list[Any] = []

    def fill(self, image: Any, mask: Any, options: Any = None, **kwargs: Any) -> Any:
        self.fills.append(options)
        return self.inner.fill(image, mask, options, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
