"""POST /api/v1/select (gmcnn.web.select_routes): the object under a stroke as a black/white PNG."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.scene import iou, object_scene
from helpers.web import assert_error, encode
from PIL import Image

from gmcnn.inpainting import select


def send(client: TestClient, picture: bytes, stroke: bytes) -> Any:
    files = {"image": ("p.png", picture, "image/png"), "stroke": ("s.png", stroke, "image/png")}
    return client.post("/api/v1/select", files=files)


def test_the_answer_is_the_object(client: TestClient) -> None:
    picture, obj = object_scene()
    stroke = np.zeros(obj.shape, np.uint8)
    stroke[66:78, 50:170] = 255
    r = send(client, encode(picture, "JPEG", quality=92), encode(stroke))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    assert r.headers["x-gmcnn-snapped"] == "true"
    found = np.asarray(Image.open(io.BytesIO(r.content)))
    assert found.shape == obj.shape and set(np.unique(found)) <= {0, 255}
    assert iou(found == 255, obj) > 0.9


def test_bad_strokes(client: TestClient) -> None:
    picture, obj = object_scene()
    assert_error(send(client, encode(picture), encode(np.zeros((10, 10), np.uint8))), 422, "10x10", "same size")
    assert_error(send(client, encode(picture), encode(np.zeros(obj.shape, np.uint8))), 422, "draw a stroke")
    assert_error(send(client, b"not an image", encode(obj.astype(np.uint8) * 255)), 415, "not an image")


def test_without_opencv_the_route_and_health_say_so(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/api/v1/health").json()["features"]["select"] == {"available": True, "missing": None}
    monkeypatch.setattr(select, "available", lambda: False)
    picture, obj = object_scene()
    assert_error(send(client, encode(picture), encode(obj.astype(np.uint8) * 255)), 501, "OpenCV", "gmcnn[web]")
    health = client.get("/api/v1/health").json()["features"]["select"]
    assert health["available"] is False and "gmcnn[web]" in health["missing"]
