"""Image files: orientation, metadata, formats, and every bad-file path."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gmcnn.errors import UnsupportedImage, UserError
from gmcnn.io import decode_image, encode_image, load_image, read_header, save_image


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


def test_forged_and_truncated_headers_are_refused_before_decoding() -> None:
    from helpers.formats import forged_jpeg

    with pytest.raises(UserError, match="truncated or damaged: its header says 10000x10000"):
        read_header(forged_jpeg())  # header only: refused without decoding 100 MP
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * 9001 * 10)  # ten rows of 9000: a complete zlib stream, far too short
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")
    with pytest.raises(UserError, match="truncated"):
        decode_image(png)
    flat = io.BytesIO()
    Image.new("L", (3000, 3000), 128).save(flat, "PNG", compress_level=9)  # as compressed as PNG gets: accepted
    assert read_header(flat.getvalue()).width == 3000


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_several_frames_and_wide_colour_samples_are_refused_with_what_to_do() -> None:
    from helpers.formats import png16

    pages = io.BytesIO()
    Image.new("RGB", (8, 8)).save(pages, "TIFF", save_all=True, append_images=[Image.new("RGB", (8, 8))])
    with pytest.raises(UnsupportedImage, match="2 pages; .* save the page to fill as its own file"):
        read_header(pages.getvalue())
    with pytest.raises(UnsupportedImage, match="convert it to 8 bits per channel"):
        read_header(png16(2, 3))


def test_tiff_output_gets_a_clean_tag_set_with_the_descriptive_tags(tmp_path: Path) -> None:
    source = Image.new("RGB", (16, 12), (10, 200, 30))
    source.save(tmp_path / "in.tif", compression="tiff_lzw", dpi=(300, 300),
                description="a scan", software="scanner 1.0")  # fmt: skip
    like = load_image(tmp_path / "in.tif")
    bilevel = like.convert("1")  # another mode than the source: no structure tag may follow from it
    save_image(bilevel, tmp_path / "out.tif", like=like)
    out = Image.open(tmp_path / "out.tif")
    tags = out.tag_v2  # type: ignore[attr-defined]
    assert out.mode == "1" and tags[262] == 1 and tags.get(277, 1) == 1 and tags[258] == (1,)
    assert tags[270] == "a scan" and tags[305] == "scanner 1.0" and out.info["dpi"] == (300, 300)
    assert out.info["compression"] == "tiff_lzw"


def test_writers_convert_what_they_cannot_store() -> None:
    cmyk = Image.new("CMYK", (4, 4), (0, 255, 255, 0))
    png = Image.open(io.BytesIO(encode_image(cmyk, "PNG")))
    assert png.mode == "RGB" and png.getpixel((0, 0)) == (255, 0, 0)  # the preview of a CMYK or LAB file
    deep = Image.fromarray(np.full((4, 4), 257 * 9, np.uint16))
    assert Image.open(io.BytesIO(encode_image(deep, "JPEG"))).mode == "L"
    assert Image.open(io.BytesIO(encode_image(deep, "PNG"))).mode == "I;16"


def test_a_mangled_later_directory_is_damage_not_a_crash() -> None:
    """Counting a TIFF's pages reads every directory; one without dimensions raised TypeError (a 500)."""
    buf = io.BytesIO()
    Image.new("1", (48, 40), 1).save(buf, "TIFF", compression="group4")
    data = bytearray(buf.getvalue())
    ifd = struct.unpack_from("<I", data, 4)[0]
    next_at = ifd + 2 + 12 * struct.unpack_from("<H", data, ifd)[0]
    struct.pack_into("<I", data, next_at, len(data))  # a second directory: compression only, no size
    data += struct.pack("<HHHII", 1, 259, 3, 1, 1) + struct.pack("<I", 0)
    with pytest.raises(UserError, match="damaged or truncated .*Missing dimensions"):
        read_header(bytes(data))
