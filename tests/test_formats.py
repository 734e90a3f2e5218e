"""The format table (``tests/helpers/formats.py``, README "Exactness"): every format, mode and bit depth the
decoders accept either comes back with its format, mode, bit depth and known pixels (exactly for lossless
formats), or is refused up front with a 4xx that says what to convert to — and ``/api/v1/check`` says the
same before the fill. Through the HTTP API and through ``gmcnn inpaint``."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from helpers.formats import CASES, HOLE, FormatCase, bit_depth, known, lossy_tolerance, mask_png
from helpers.web import assert_error, post
from PIL import Image

from gmcnn.cli import main

# What a TIFF's PhotometricInterpretation and SamplesPerPixel must be for each mode the writer stores.
TIFF_LAYOUT = {"1": (1, 1), "L": (1, 1), "I;16": (1, 1), "I;16B": (1, 1), "P": (3, 1), "RGB": (2, 3),
               "RGBA": (2, 4), "CMYK": (5, 4), "YCbCr": (6, 3), "LAB": (8, 3)}  # fmt: skip
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _assert_kept(case: FormatCase, data: bytes, answer: bytes) -> None:
    """The answer has the upload's format and mode, its known pixels (exactly where lossless) and a filled hole."""
    source, out = _decoded(data), _decoded(answer)
    assert (out.format, out.mode, out.size) == (source.format, source.mode, source.size)
    a, b = np.asarray(source), np.asarray(out)
    keep = known()
    if case.outcome == "exact":
        assert np.array_equal(a[keep], b[keep]), f"{case.name}: known pixels changed"
        if case.same_depth:
            assert bit_depth(answer) == bit_depth(data)
    else:
        drift = np.abs(a[keep].astype(int) - b[keep].astype(int)).max()
        assert drift <= lossy_tolerance(case), f"{case.name}: known pixels drifted by {drift}"
    assert not np.array_equal(a[HOLE], b[HOLE]), f"{case.name}: the hole was not filled"
    if out.format == "TIFF":  # a clean tag set: the layout tags describe the pixels actually written
        tags = out.tag_v2  # type: ignore[attr-defined]
        assert (tags[262], tags.get(277, 1)) == TIFF_LAYOUT[out.mode]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_http_fill_keeps_or_refuses_every_format(client: TestClient, case: FormatCase) -> None:
    data = case.make()
    check = client.post("/api/v1/check", files={"image": ("photo", data, "application/octet-stream")})
    fill = post(client, data, mask_png())
    if case.outcome == "refused":
        body = assert_error(fill, case.status, *case.words)
        assert check.status_code == case.status and check.json()["error"] == body["error"]
        return
    assert fill.status_code == 200, fill.text
    assert check.status_code == 200 and check.json()["lossless"] == (case.outcome == "exact")
    _assert_kept(case, data, fill.content)
    preview = client.post("/api/v1/preview", files={"image": ("photo", data, "application/octet-stream")})
    assert preview.status_code == 200 and _decoded(preview.content).size == _decoded(data).size


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_cli_fill_keeps_or_refuses_every_format(
    tmp_path: Path, tiny_export: Path, case: FormatCase, capsys: pytest.CaptureFixture[str]
) -> None:
    data = case.make()
    ext = EXTENSIONS[Image.open(io.BytesIO(data)).format or "PNG"]
    (tmp_path / f"in{ext}").write_bytes(data)
    (tmp_path / "mask.png").write_bytes(mask_png())
    args = ["inpaint", str(tmp_path / f"in{ext}"), "--mask", str(tmp_path / "mask.png"), "-o",
            str(tmp_path / f"out{ext}"), "--model", str(tiny_export), "--device", "cpu"]  # fmt: skip
    code = main(args)
    if case.outcome == "refused":
        assert code == 2 and not (tmp_path / f"out{ext}").exists()
        err = capsys.readouterr().err
        assert all(word in err for word in case.words), err
        return
    assert code == 0
    _assert_kept(case, data, (tmp_path / f"out{ext}").read_bytes())
