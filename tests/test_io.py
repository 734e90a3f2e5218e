"""Image files: orientation, metadata, formats, and every bad-file path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gmcnn.errors import UserError
from gmcnn.io import decode_image, encode_image, load_image, save_image


def _exif_rotated_jpeg(path: Path, arr: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    Image.fromarray(arr).save(path, exif=exif.tobytes(), icc_profile=b"fake-icc-profile-bytes")


def test_exif_orientation_is_applied_and_reset(tmp_path: Path, photo: np.ndarray) -> None:
    src = tmp_path / "rot.jpg"
    _exif_rotated_jpeg(src, photo[:100, :200])
    img = load_image(src)
    assert img.size == (100, 200) and img.format == "JPEG"
    out = tmp_path / "out.jpg"
    save_image(img, out, like=img)
    again = Image.open(out)
    assert again.size == (100, 200)
    assert again.getexif().get(0x0112, 1) == 1
    assert again.info.get("icc_profile") == b"fake-icc-profile-bytes"


def test_png_alpha_survives(tmp_path: Path) -> None:
    arr = np.random.default_rng(0).integers(0, 256, (8, 8, 4), dtype=np.uint8)
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    img = load_image(tmp_path / "a.png")
    save_image(img, tmp_path / "b.png", like=img)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")), arr)


def test_missing_broken_truncated_huge_and_unsupported(tmp_path: Path, photo: np.ndarray) -> None:
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "nope.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(UserError, match="not an image"):
        load_image(tmp_path / "text.png")
    Image.fromarray(photo).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(UserError, match="damaged or truncated"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(UserError, match="more than the limit"):
        load_image(tmp_path / "full.jpg", max_pixels=1000)
    Image.fromarray(photo[:8, :8]).save(tmp_path / "x.gif")
    with pytest.raises(UserError, match="GIF"):
        load_image(tmp_path / "x.gif")
    with pytest.raises(UserError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(UserError, match="empty"):
        decode_image(b"")


def test_unsupported_output_extension_and_jpeg_alpha(tmp_path: Path) -> None:
    img = Image.new("RGBA", (4, 4))
    with pytest.raises(UserError, match="unsupported output extension"):
        save_image(img, tmp_path / "x.xyz")
    with pytest.raises(UserError, match="JPEG cannot store"):
        encode_image(img, "jpeg")


def test_save_is_atomic_no_temp_files_left(tmp_path: Path) -> None:
    save_image(Image.new("RGB", (4, 4)), tmp_path / "o.png")
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]
