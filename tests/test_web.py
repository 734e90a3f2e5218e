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


def local(app: Any, **kwargs: Any) -> TestClient:
    """A client that calls the app as http://127.0.0.1 (the server answers only its own hosts)."""
    return TestClient(app, base_url="http://127.0.0.1", **kwargs)


@pytest.fixture(scope="module")
def client(inpainter: Inpainter) -> Iterator[TestClient]:
    with local(create_app(inpainter)) as c:
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
    with local(create_app(inpainter, queue_size=4)) as c:

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
    with local(create_app(inpainter, max_pixels=100 * 100)) as c:
        body = assert_error(post(c, encode(picture), encode(hole())), 413, "12,288", "10,000")
    assert body["detail"] == {"field": "image"}


def test_too_large_upload_by_content_length(inpainter: Inpainter, picture: np.ndarray) -> None:
    with local(create_app(inpainter, max_upload_bytes=5000)) as c:
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

    with local(create_app(inpainter, max_upload_bytes=5000)) as c:
        r = c.post(
            "/api/v1/inpaint", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "limit of 5,000")
        # The same body under a larger limit goes through: the check counts bytes, it does not refuse chunking.
    with local(create_app(inpainter)) as c:
        r = c.post(
            "/api/v1/inpaint", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
        )
        assert r.status_code == 200, r.text


def test_cross_origin_post_is_refused(client: TestClient, picture: np.ndarray) -> None:
    files = {"image": ("a.png", encode(picture), "image/png"), "mask": ("m.png", encode(hole()), "image/png")}
    r = client.post("/api/v1/inpaint", files=files, headers={"origin": "https://evil.example"})
    assert_error(r, 403, "cross-origin")
    assert "access-control-allow-origin" not in r.headers
    ok = client.post("/api/v1/inpaint", files=files, headers={"origin": "http://127.0.0.1"})
    assert ok.status_code == 200, ok.text
    health = client.get("/api/v1/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in health.headers  # no CORS: other sites cannot read answers


def test_errors_do_not_leak_queue_slots(inpainter: Inpainter, picture: np.ndarray) -> None:
    with local(create_app(inpainter, queue_size=0)) as c:
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


def test_full_queue_answers_503_with_retry_after(inpainter: Inpainter, picture: np.ndarray) -> None:
    gate = Gate(inpainter)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, picture.shape, dtype=np.uint8) for _ in range(2)]
    mask = hole()
    results: dict[int, Any] = {}
    with local(create_app(gate, queue_size=1)) as c:  # one running + one waiting
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
    for asset in ("/static/js/painter.js", "/static/painter.css"):
        assert asset in page.text
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    entry = client.get("/static/js/painter.js")
    assert entry.headers["content-type"].startswith("text/javascript")  # served as an ES module may be
    for module in ("state", "mask", "history", "view", "api", "panel"):  # no build step: the browser imports them
        assert f'"./{module}.js"' in entry.text
        source = client.get(f"/static/js/{module}.js")
        assert source.status_code == 200 and "https://" not in source.text


def test_openapi_documents_the_inpaint_form(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/inpaint"]["post"]
    ref = op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]
    fields = spec["components"]["schemas"][ref]["properties"]
    # The form is the two files plus every fill option (strategy, process_size, grow, feather, margin, texture).
    assert set(fields) == {"image", "mask", "output", "job", *FillOptions.schema()}
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
        def fill(self, image: Any, mask: Any, options: Any = None, **kwargs: Any) -> Any:
            raise RuntimeError("simulated out of memory")

    with local(create_app(Broken(inpainter)), raise_server_exceptions=False) as c:
        assert_error(post(c, encode(picture), encode(hole())), 500, "RuntimeError", "simulated out of memory")
        assert c.app.state.queue.admitted == 0


# ------------------------------------------------------------------------------------------------ hardening
def test_fuzzed_uploads_never_get_a_5xx_and_the_connection_survives(inpainter: Inpainter, picture: np.ndarray) -> None:
    """A few hundred of benchmarks/web_fuzz.py's cases (it runs >= 1,000 against `gmcnn serve`)."""
    from benchmarks.web_fuzz import Case, fuzz_cases, send_cases
    from gmcnn.web.background import BackgroundServer

    rgb = np.ascontiguousarray(picture[:40, :48])
    mask = np.zeros((40, 48), np.uint8)
    mask[12:24, 16:32] = 255
    cases = fuzz_cases(rgb, mask, np.random.default_rng(5), count=300)
    assert len(cases) >= 300 and sum(c.name.startswith("bomb") for c in cases) >= 6
    with BackgroundServer(create_app(inpainter)) as live:
        result = send_cases("127.0.0.1", live.port, cases, Case("valid", encode(rgb), encode(mask)))
        assert live.thread.is_alive()
    assert result["server_errors"] == 0, result["server_error_cases"]
    assert result["final_valid_fill_status"] == 200 and result["one_connection"]
    assert sum(v for k, v in result["statuses"].items() if k.startswith("4")) > 250  # mostly refused, clearly


@pytest.mark.parametrize("cut", [8, 16, 33])
def test_cut_off_headers_are_400(client: TestClient, picture: np.ndarray, cut: int) -> None:
    for fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        r = post(client, encode(picture, fmt)[:cut], encode(hole()))
        assert r.status_code in (400, 415), (fmt, r.text)
        assert "internal" not in r.json()["error"]


LOSSLESS_CASES = [("PNG", mode, {}) for mode in ("RGB", "RGBA", "L", "LA", "P")] + [
    ("WEBP", "RGB", {"lossless": True}),
    ("WEBP", "RGBA", {"lossless": True}),
    ("TIFF", "RGB", {}),
    ("TIFF", "RGBA", {}),
    ("TIFF", "L", {"compression": "tiff_deflate"}),
    ("BMP", "RGB", {}),
    ("BMP", "L", {}),
]


@pytest.mark.parametrize(("fmt", "mode", "kwargs"), LOSSLESS_CASES, ids=[f"{f}-{m}" for f, m, _ in LOSSLESS_CASES])
def test_lossless_formats_are_byte_identical_outside_the_mask(
    client: TestClient, picture: np.ndarray, fmt: str, mode: str, kwargs: dict[str, Any]
) -> None:
    alpha = np.full(picture.shape[:2], 180, np.uint8)
    alpha[:, :12] = 0  # fully transparent pixels keep their colour too
    img = Image.fromarray(np.dstack([picture, alpha]) if "A" in mode else picture)
    img = img.convert(mode) if img.mode != mode else img
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    sent = Image.open(io.BytesIO(buf.getvalue()))
    mask = hole()
    r = post(client, buf.getvalue(), encode(mask))
    assert r.status_code == 200, r.text
    out = Image.open(io.BytesIO(r.content))
    assert out.format == fmt and out.size == sent.size
    before = np.asarray(sent.convert("RGBA" if "A" in mode or mode == "P" else sent.mode))
    after = np.asarray(out.convert("RGBA" if "A" in mode or mode == "P" else out.mode))
    keep = mask == 0
    assert np.array_equal(after[keep], before[keep])
    assert (after[mask > 0] != before[mask > 0]).any()  # and the hole was filled


def test_lossy_webp_and_jpeg_say_what_is_exact_and_png_output_is(client: TestClient, picture: np.ndarray) -> None:
    for fmt in ("JPEG", "WEBP"):
        facts = client.post("/api/v1/check", files={"image": ("a", encode(picture, fmt), "image/x")}).json()
        assert facts["lossless"] is False and "PNG" in facts["exact"]
    jpeg = encode(picture, "JPEG", quality=90)
    decoded = np.asarray(Image.open(io.BytesIO(jpeg)))
    r = post(client, jpeg, encode(hole()), output="png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert np.array_equal(out[hole() == 0], decoded[hole() == 0])  # exact: the JPEG's own decoded pixels
    lossless = client.post("/api/v1/check", files={"image": ("a", encode(picture, "WEBP", lossless=True), "x")})
    assert lossless.json()["lossless"] is True


def test_check_and_preview_use_the_fill_rules(client: TestClient, picture: np.ndarray) -> None:
    def check(data: bytes) -> Any:
        return client.post("/api/v1/check", files={"image": ("x", data, "application/octet-stream")})

    tiff = encode(picture, "TIFF")
    facts = check(tiff).json()
    assert facts == {**facts, "format": "TIFF", "width": 128, "height": 96, "lossless": True}
    png = client.post("/api/v1/preview", files={"image": ("x", tiff, "image/tiff")})
    assert png.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.content))), picture)
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, "GIF")
    assert_error(check(buf.getvalue()), 415, "GIF")
    data = encode(picture)
    assert_error(check(data[: len(data) // 2]), 400, "truncated")
    deep = io.BytesIO()
    Image.fromarray(np.full((8, 8), 40000, np.uint16)).save(deep, "PNG")
    assert_error(check(deep.getvalue()), 422, "mode")


def test_mask_without_white_is_not_called_empty(client: TestClient, picture: np.ndarray) -> None:
    dim = np.zeros((96, 128), np.uint8)
    dim[:60] = 100  # a 0/100 mask: 62 % grey would be "not binary"; keep it mostly black
    dim[:] = 0
    dim[30:34, 40:44] = 100
    body = assert_error(post(client, encode(picture), encode(dim)), 422, "brightest value is 100")
    assert "empty" not in body["error"]


def test_colour_mask_upload_is_a_hole(client: TestClient, picture: np.ndarray) -> None:
    red = np.zeros((96, 128, 3), np.uint8)
    red[30:50, 40:90, 0] = 255
    r = post(client, encode(picture), encode(red))
    assert r.status_code == 200, r.text
    changed = (np.asarray(Image.open(io.BytesIO(r.content))) != picture).any(axis=2)
    assert not changed[red[..., 0] == 0].any() and changed[red[..., 0] > 0].mean() > 0.5


def test_dns_rebinding_host_is_refused(inpainter: Inpainter) -> None:
    app = create_app(inpainter, allowed_hosts=["painter.lan"])
    with TestClient(app, base_url="http://evil.example:8765") as c:
        r = c.get("/api/v1/health", headers={"origin": "http://evil.example:8765"})
        assert_error(r, 400, "evil.example")
    for base in (
        "http://127.0.0.1:8765",
        "http://[::1]:8000",
        "http://192.168.1.20:8000",
        "http://localhost",
        "http://painter.lan:80",
    ):
        with TestClient(app, base_url=base) as c:
            assert c.get("/api/v1/health").status_code == 200, base


def test_security_headers_on_every_answer(client: TestClient, picture: np.ndarray) -> None:
    answers = [
        client.get("/"),
        client.get("/static/index.html"),
        client.get("/static/js/painter.js"),
        client.get("/api/v1/health"),
        client.get("/static/nope.js"),
        post(client, b"junk", encode(hole())),
    ]
    for r in answers:
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], r.url
        assert r.headers["x-content-type-options"] == "nosniff", r.url


def test_docs_work_offline(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "http://" not in docs.text and "https://" not in docs.text
    assert "https://" not in client.get("/static/docs.js").text
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN pages are off


def test_memory_budget_refuses_what_cannot_fit(inpainter: Inpainter, picture: np.ndarray) -> None:
    cost = 128 * 96 * 24  # BYTES_PER_PIXEL for this image
    with local(create_app(inpainter, memory_budget=cost - 1)) as c:
        body = assert_error(post(c, encode(picture), encode(hole())), 413, "working memory")
        assert body["detail"]["budget_bytes"] == cost - 1
    gate = Gate(inpainter)
    with local(create_app(gate, memory_budget=int(cost * 1.5), queue_size=3)) as c:
        results: dict[str, Any] = {}
        first = threading.Thread(target=lambda: results.setdefault("first", post(c, encode(picture), encode(hole()))))
        first.start()
        assert gate.entered.wait(30)
        busy = post(c, encode(picture), encode(hole()))
        gate.opened.set()
        assert_error(busy, 503, "memory budget")
        assert int(busy.headers["retry-after"]) >= 1
        first.join(60)
        assert results["first"].status_code == 200
        assert c.app.state.gmcnn.budget.used == 0
        assert post(c, encode(picture), encode(hole())).status_code == 200


def test_job_progress_and_cancel(inpainter: Inpainter, picture: np.ndarray) -> None:
    gate = Gate(inpainter)
    with local(create_app(gate)) as c:
        results: dict[str, Any] = {}

        def send(job: str) -> None:
            results[job] = post(c, encode(picture), encode(hole()), job=job, strategy="crop", process_size=64)

        first = threading.Thread(target=send, args=("job-one-1234",))
        first.start()
        assert gate.entered.wait(30)
        second = threading.Thread(target=send, args=("job-two-1234",))
        second.start()
        wait_until(lambda: c.get("/api/v1/jobs/job-two-1234").status_code == 200, "the second job to be known")
        assert c.get("/api/v1/jobs/job-two-1234").json()["state"] == "queued"
        assert c.delete("/api/v1/jobs/job-two-1234").status_code == 200  # cancelled while it waits
        gate.opened.set()
        first.join(60)
        second.join(60)
        assert results["job-one-1234"].status_code == 200
        assert c.get("/api/v1/jobs/job-one-1234").json() == {"state": "done", "done": 1, "total": 1}
        assert_error(results["job-two-1234"], 409, "cancelled")
        assert c.get("/api/v1/jobs/job-two-1234").json()["state"] == "cancelled"
        assert_error(c.get("/api/v1/jobs/never-seen-1"), 404, "no job")
        assert_error(post(c, encode(picture), encode(hole()), job="../bad"), 422, "job")
        assert c.app.state.queue.admitted == 0


def test_health_bounds_are_the_form_bounds(client: TestClient) -> None:
    options = client.get("/api/v1/health").json()["options"]
    spec = client.get("/openapi.json").json()
    ref = spec["paths"]["/api/v1/inpaint"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    form = spec["components"]["schemas"][ref.split("/")[-1]]["properties"]
    for name in ("grow", "feather"):
        assert (form[name]["minimum"], form[name]["maximum"]) == (options[name]["minimum"], options[name]["maximum"])
    process = next(a for a in form["process_size"]["anyOf"] if a.get("type") == "integer")
    assert (process["minimum"], process["maximum"]) == (
        options["process_size"]["minimum"],
        options["process_size"]["maximum"],
    )
    assert options["strategy"]["choices"] == ["auto", "original", "resize", "crop"]


def test_serve_without_the_web_extra_prints_a_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import argparse
    import builtins

    real_import = builtins.__import__

    def no_uvicorn(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    parser = argparse.ArgumentParser()
    web_server.add_arguments(parser)
    with pytest.raises(ValueError, match=r"web extra \(uvicorn is not installed\).*gmcnn\[web\]"):
        web_server.run(parser.parse_args([]))


def test_plan_is_the_fill_plan(client: TestClient, inpainter: Inpainter, picture: np.ndarray) -> None:
    from gmcnn.inpainting.options import FillOptions

    mask = hole()
    files = {"mask": ("m.png", encode(mask), "image/png")}
    r = client.post("/api/v1/plan", files=files, data={"strategy": "crop", "process_size": "64", "grow": "2"})
    assert r.status_code == 200, r.text
    expected = inpainter.plan(picture, mask, FillOptions(strategy="crop", process_size=64, grow=2)).to_dict()
    assert {k: v for k, v in r.json().items() if k != "trained_size"} == expected
    assert r.json()["trained_size"] == 64
    filled = post(client, encode(picture), encode(mask), strategy="crop", process_size=64, grow=2)
    assert filled.headers["x-gmcnn-windows"] == str(len(expected["windows"]))
    assert_error(client.post("/api/v1/plan", files=files, data={"grow": "100000"}), 422, "grow")


def test_mask_files_are_read_by_the_server_rule(client: TestClient) -> None:
    red = np.zeros((20, 30, 4), np.uint8)
    red[5:10, 5:20] = (255, 0, 0, 255)  # a painted layer: alpha marks the hole
    r = client.post("/api/v1/mask", files={"mask": ("m.png", encode(red), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    out = np.asarray(Image.open(io.BytesIO(r.content)))
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 255}
    assert np.array_equal(out == 255, red[..., 3] > 0)
    assert_error(client.post("/api/v1/mask", files={"mask": ("m.png", b"junk", "image/png")}), 415, "not an image")
