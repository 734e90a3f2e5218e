"""HTTP API tests with FastAPI's TestClient: good fills, every kind of bad input, the bounded queue, health."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from gmcnn import Inpainter
from gmcnn.cli import serve as web_server
from gmcnn.inpainting.options import FillOptions
from gmcnn.web import create_app


@pytest.fixture(scope="module")
def client(inpainter: Inpainter) -> Iterator[TestClient]:
    with TestClient(create_app(inpainter)) as c:
        yield c


@pytest.fixture(scope="module")
def picture(photo: np.ndarray) -> np.ndarray:
    """96x128 crop of a real photo (small: the tiny model stays fast)."""
    return np.ascontiguousarray(photo[100:196, 200:328])


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


# ------------------------------------------------------------------------------------------------ good fills
@pytest.mark.parametrize("strategy", ["auto", "original", "resize", "crop"])
def test_png_fill_changes_only_the_hole(client: TestClient, picture: np.ndarray, strategy: str) -> None:
    mask = hole()
    r = post(client, encode(picture), encode(mask), strategy=strategy, process_size=64)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    out = Image.open(io.BytesIO(r.content))
    assert out.format == "PNG" and out.size == (128, 96) and out.mode == "RGB"
    changed = (np.asarray(out) != picture).any(axis=2)
    assert changed[mask > 0].mean() > 0.5  # the tiny random model does paint the hole
    assert not changed[mask == 0].any()  # byte-identical outside it
    assert r.headers["x-gmcnn-strategy"] in ("original", "resize", "crop")


def test_grow_and_feather_reach_the_model(client: TestClient, picture: np.ndarray) -> None:
    mask = hole()
    r = post(client, encode(picture), encode(mask), grow=4, feather=3)
    assert r.status_code == 200, r.text
    changed = (np.asarray(Image.open(io.BytesIO(r.content))) != picture).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert ys.min() < 30 and xs.min() < 40 and ys.max() >= 50 and xs.max() >= 90  # beyond the painted hole
    assert not changed[:20].any() and not changed[:, :30].any()  # but not far beyond


@pytest.mark.parametrize(
    ("fmt", "kwargs", "mime"), [("JPEG", {"quality": 90}, "image/jpeg"), ("WEBP", {}, "image/webp")]
)
def test_output_format_follows_the_upload(
    client: TestClient, picture: np.ndarray, fmt: str, kwargs: dict[str, Any], mime: str
) -> None:
    r = post(client, encode(picture, fmt, **kwargs), encode(hole()))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == mime
    out = Image.open(io.BytesIO(r.content))
    assert out.format == fmt and out.size == (128, 96)


def test_rgba_png_keeps_its_alpha(client: TestClient, picture: np.ndarray) -> None:
    alpha = np.full(picture.shape[:2], 200, np.uint8)
    alpha[:, :10] = 0
    rgba = np.dstack([picture, alpha])
    r = post(client, encode(rgba), encode(hole()))
    assert r.status_code == 200, r.text
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert out.shape == (96, 128, 4)
    assert np.array_equal(out[..., 3], alpha)


def test_exif_rotated_jpeg_is_filled_upright(client: TestClient, picture: np.ndarray) -> None:
    """Browsers show EXIF-rotated photos upright, so the page paints its mask on the upright size."""
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: shown rotated by 90 degrees
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "JPEG", exif=exif.tobytes())  # stored 128x96, shown 96x128
    mask = np.zeros((128, 96), np.uint8)
    mask[40:60, 30:60] = 255
    r = post(client, buf.getvalue(), encode(mask))
    assert r.status_code == 200, r.text
    out = Image.open(io.BytesIO(r.content))
    assert out.size == (96, 128)
    assert out.getexif().get(0x0112, 1) == 1  # not rotated a second time by viewers


def test_results_of_concurrent_requests_are_not_mixed(inpainter: Inpainter, picture: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, picture.shape, dtype=np.uint8) for _ in range(4)]
    mask = hole()
    results: dict[int, Any] = {}
    with TestClient(create_app(inpainter, queue_size=4)) as c:

        def send(i: int) -> None:
            results[i] = post(c, encode(images[i]), encode(mask))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    for i, image in enumerate(images):
        assert results[i].status_code == 200, results[i].text
        out = np.asarray(Image.open(io.BytesIO(results[i].content)))
        assert np.array_equal(out[mask == 0], image[mask == 0])


# ------------------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("missing", ["image", "mask"])
def test_missing_field(client: TestClient, picture: np.ndarray, missing: str) -> None:
    image = None if missing == "image" else encode(picture)
    mask = None if missing == "mask" else encode(hole())
    body = assert_error(post(client, image, mask), 422, missing, "required")
    assert body["detail"][0]["loc"] == ["body", missing]


def test_empty_upload(client: TestClient) -> None:
    assert_error(post(client, b"", encode(hole())), 422, "'image'", "empty")


def test_not_an_image_is_unsupported(client: TestClient) -> None:
    assert_error(post(client, b"%PDF-1.4 not a photo at all", encode(hole())), 415, "not an image")


def test_unsupported_image_format(client: TestClient, picture: np.ndarray) -> None:
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "GIF")
    assert_error(post(client, buf.getvalue(), encode(hole())), 415, "GIF")


def test_damaged_image(client: TestClient, picture: np.ndarray) -> None:
    data = encode(picture)
    assert_error(post(client, data[: len(data) // 2], encode(hole())), 400, "damaged")


def test_damaged_mask(client: TestClient, picture: np.ndarray) -> None:
    mask = encode(hole())
    body = assert_error(post(client, encode(picture), mask[: len(mask) - 30]), 400, "'mask'")
    assert body["detail"] == {"field": "mask"}


def test_size_mismatch(client: TestClient, picture: np.ndarray) -> None:
    body = assert_error(post(client, encode(picture), encode(hole(64, 64))), 422, "64x64", "128x96", "same size")
    assert body["detail"] == {"image_size": [128, 96], "mask_size": [64, 64]}


def test_empty_mask(client: TestClient, picture: np.ndarray) -> None:
    assert_error(post(client, encode(picture), encode(np.zeros((96, 128), np.uint8))), 422, "mask is empty")


def test_photo_as_mask_is_refused(client: TestClient, picture: np.ndarray) -> None:
    assert_error(post(client, encode(picture), encode(picture)), 422, "not binary")


def test_image_mode_the_model_cannot_fill(client: TestClient) -> None:
    deep = Image.fromarray(np.full((96, 128), 40000, np.uint16))  # 16-bit grey
    buf = io.BytesIO()
    deep.save(buf, "PNG")
    assert_error(post(client, buf.getvalue(), encode(hole())), 422, "mode")


@pytest.mark.parametrize(
    ("field", "value", "word"),
    [
        ("strategy", "tiles", "unknown strategy"),
        ("process_size", 10, "process_size"),
        ("grow", -1, "grow"),
        ("feather", 100000, "feather"),
        ("grow", "wide", "grow"),
    ],
)
def test_bad_options(client: TestClient, picture: np.ndarray, field: str, value: Any, word: str) -> None:
    assert_error(post(client, encode(picture), encode(hole()), **{field: value}), 422, word)


def test_too_many_pixels(inpainter: Inpainter, picture: np.ndarray) -> None:
    with TestClient(create_app(inpainter, max_pixels=100 * 100)) as c:
        body = assert_error(post(c, encode(picture), encode(hole())), 413, "12,288", "10,000")
    assert body["detail"] == {"field": "image"}


def test_too_large_upload_by_content_length(inpainter: Inpainter, picture: np.ndarray) -> None:
    with TestClient(create_app(inpainter, max_upload_bytes=5000)) as c:
        assert_error(post(c, encode(picture), encode(hole())), 413, "limit of 5,000")


def test_too_large_upload_streamed_without_length(inpainter: Inpainter, picture: np.ndarray) -> None:
    """A chunked body has no Content-Length: the limit is enforced while it is read."""
    boundary = "gmcnnboundary"
    parts = []
    for name, data in (("image", encode(picture)), ("mask", encode(hole()))):
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 1024):
            yield body[i : i + 1024]

    with TestClient(create_app(inpainter, max_upload_bytes=5000)) as c:
        r = c.post(
            "/api/v1/inpaint", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "limit of 5,000")
        # The same body under a larger limit goes through: the check counts bytes, it does not refuse chunking.
    with TestClient(create_app(inpainter)) as c:
        r = c.post(
            "/api/v1/inpaint", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert r.status_code == 200, r.text


def test_cross_origin_post_is_refused(client: TestClient, picture: np.ndarray) -> None:
    files = {"image": ("a.png", encode(picture), "image/png"), "mask": ("m.png", encode(hole()), "image/png")}
    r = client.post("/api/v1/inpaint", files=files, headers={"origin": "https://evil.example"})
    assert_error(r, 403, "cross-origin")
    assert "access-control-allow-origin" not in r.headers
    ok = client.post("/api/v1/inpaint", files=files, headers={"origin": "http://testserver"})
    assert ok.status_code == 200, ok.text
    health = client.get("/api/v1/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in health.headers  # no CORS: other sites cannot read answers


def test_errors_do_not_leak_queue_slots(inpainter: Inpainter, picture: np.ndarray) -> None:
    with TestClient(create_app(inpainter, queue_size=0)) as c:
        for _ in range(3):
            assert post(c, b"junk", encode(hole())).status_code == 415
            assert post(c, encode(picture), encode(hole(8, 8))).status_code == 422
        assert c.app.state.queue.admitted == 0
        assert post(c, encode(picture), encode(hole())).status_code == 200


# ------------------------------------------------------------------------------------------------ queue
class Gate:
    """An Inpainter whose calls wait until the test opens the gate: fills the queue deterministically."""

    def __init__(self, inner: Inpainter) -> None:
        self.inner = inner
        self.opened = threading.Event()
        self.entered = threading.Event()

    def fill(self, image: Any, mask: Any, options: Any = None) -> Any:
        self.entered.set()
        if not self.opened.wait(60):
            raise RuntimeError("the test never opened the gate")
        return self.inner.fill(image, mask, options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def wait_until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_full_queue_answers_503_with_retry_after(inpainter: Inpainter, picture: np.ndarray) -> None:
    gate = Gate(inpainter)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, picture.shape, dtype=np.uint8) for _ in range(2)]
    mask = hole()
    results: dict[int, Any] = {}
    with TestClient(create_app(gate, queue_size=1)) as c:  # one running + one waiting
        queue = c.app.state.queue

        def send(i: int) -> None:
            results[i] = post(c, encode(images[i]), encode(mask))

        first = threading.Thread(target=send, args=(0,))
        first.start()
        assert gate.entered.wait(30), "the first request never reached the model"
        second = threading.Thread(target=send, args=(1,))
        second.start()
        wait_until(lambda: queue.admitted == 2, "the second request to be queued")

        busy = post(c, encode(picture), encode(mask))
        body = assert_error(busy, 503, "busy")
        assert int(busy.headers["retry-after"]) >= 1
        assert body["detail"]["queue_capacity"] == 2
        assert c.get("/api/v1/health").json()["queue"] == {"in_progress": 2}

        gate.opened.set()
        first.join(60)
        second.join(60)
        for i in range(2):  # the queued requests were not lost, and each got its own image back
            assert results[i].status_code == 200, results[i].text
            out = np.asarray(Image.open(io.BytesIO(results[i].content)))
            assert np.array_equal(out[mask == 0], images[i][mask == 0])
        wait_until(lambda: queue.admitted == 0, "the slots to be released")
        assert post(c, encode(picture), encode(mask)).status_code == 200


# ------------------------------------------------------------------------------------------------ other routes
def test_health_describes_the_model(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok"
    assert h["model"]["cnum"] == 4
    assert h["model"]["training"] == {"image_size": 64, "mask_type": "mixed"}
    assert h["model"]["contract"]["mask_polarity"] == "1=hole"
    assert h["limits"]["queue_capacity"] == 5 and h["limits"]["max_pixels"] > 0
    assert h["defaults"]["process_size"] >= 64
    assert set(h["strategies"]) == {"auto", "original", "resize", "crop"}


def test_page_and_assets_come_from_the_package(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be read relative to the working directory
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/painter.js", "/static/painter.css"):
        assert asset in page.text
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert "https://" not in client.get("/static/painter.js").text


def test_openapi_documents_the_inpaint_form(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/inpaint"]["post"]
    ref = op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]
    fields = spec["components"]["schemas"][ref]["properties"]
    # The form is the two files plus every fill option (strategy, process_size, grow, feather, margin, texture).
    assert set(fields) == {"image", "mask", *FillOptions.schema()}
    assert {"strategy", "process_size", "grow", "feather"} <= set(fields)
    assert {"200", "400", "413", "415", "422", "503"} <= set(op["responses"])
    assert "image/png" in op["responses"]["200"]["content"]
    assert set(spec["paths"]) >= {"/api/v1/inpaint", "/api/v1/health"}
    assert client.get("/docs").status_code == 200


def test_serve_cli_defaults_to_localhost(tmp_path: Path) -> None:
    import argparse

    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    args = parser.parse_args([])
    assert (args.host, args.port, args.model, args.device, args.open) == ("127.0.0.1", 8000, "default", "auto", False)
    bad = parser.parse_args(["--queue-size", "-1", "--model", str(tmp_path)])
    with pytest.raises(ValueError, match="queue-size"):
        web_server.run(bad)


def test_a_crash_in_the_model_is_a_json_500(inpainter: Inpainter, picture: np.ndarray) -> None:
    class Broken(Gate):
        def fill(self, image: Any, mask: Any, options: Any = None) -> Any:
            raise RuntimeError("simulated out of memory")

    with TestClient(create_app(Broken(inpainter)), raise_server_exceptions=False) as c:
        assert_error(post(c, encode(picture), encode(hole())), 500, "RuntimeError", "simulated out of memory")
        assert c.app.state.queue.admitted == 0
