"""The HTTP routes (gmcnn.web.routes) through FastAPI's TestClient: good fills, every kind of bad input, check,
preview, plan, mask, health and the OpenAPI form."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.web import assert_error, encode, hole, local, post
from PIL import Image

from gmcnn import Inpainter
from gmcnn.errors import EMPTY_MASK
from gmcnn.inpainting.options import FillOptions
from gmcnn.web import create_app


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


def test_empty_mask_is_the_one_sentence(client: TestClient, picture: np.ndarray) -> None:
    body = assert_error(post(client, encode(picture), encode(np.zeros((96, 128), np.uint8))), 422)
    assert body["error"] == EMPTY_MASK  # the CLI's and the page's words (health tells the page)
    assert client.get("/api/v1/health").json()["messages"]["empty_mask"] == EMPTY_MASK


@pytest.mark.parametrize("grow", [0, 200])
def test_mask_over_the_whole_image_is_refused(client: TestClient, picture: np.ndarray, grow: int) -> None:
    mask = np.full((96, 128), 255, np.uint8) if grow == 0 else hole()
    assert_error(post(client, encode(picture), encode(mask), grow=grow), 422, "covers the whole image")
    files = {"mask": ("m.png", encode(mask), "image/png")}
    assert_error(client.post("/api/v1/plan", files=files, data={"grow": grow}), 422, "covers the whole image")


def test_photo_as_mask_is_refused(client: TestClient, picture: np.ndarray) -> None:
    assert_error(post(client, encode(picture), encode(picture)), 422, "not binary")


def test_image_mode_the_model_cannot_fill(client: TestClient) -> None:
    deep = Image.fromarray(np.full((96, 128), 0.5, np.float32))  # a float TIFF: no faithful way back
    buf = io.BytesIO()
    deep.save(buf, "TIFF")
    assert_error(post(client, buf.getvalue(), encode(hole())), 415, "mode F", "convert")


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


def test_health_describes_the_model(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    h = r.json()
    assert h["status"] == "ok"
    assert h["model"]["cnum"] == 4
    assert h["model"]["training"] == {"image_size": 64, "mask_type": "mixed"}
    assert h["model"]["contract"]["mask_polarity"] == "1=hole"
    assert h["limits"]["queue_capacity"] == 5 and h["limits"]["max_pixels"] > 0
    assert (
        h["defaults"]["process_size"] is None and h["model"]["contract"]["process_size"] >= 64
    )  # None = the model's own
    assert set(h["strategies"]) == {"auto", "original", "resize", "crop"}


def test_openapi_documents_the_inpaint_form(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/api/v1/inpaint"]["post"]
    ref = op["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"].split("/")[-1]
    fields = spec["components"]["schemas"][ref]["properties"]
    # The form is the two files plus every fill option (strategy, process_size, grow, feather, margin, detail).
    assert set(fields) == {"image", "mask", "output", "job", "explain", *FillOptions.schema()}
    assert {"strategy", "process_size", "grow", "feather"} <= set(fields)
    assert {"200", "400", "413", "415", "422", "503"} <= set(op["responses"])
    assert "image/png" in op["responses"]["200"]["content"]
    assert set(spec["paths"]) >= {"/api/v1/inpaint", "/api/v1/health"}
    assert client.get("/docs").status_code == 200


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
    Image.fromarray(np.full((8, 8), 0.5, np.float32)).save(deep, "TIFF")
    assert_error(check(deep.getvalue()), 415, "mode F")


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
