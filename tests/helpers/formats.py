"""The format table: one small real file per format, mode and bit depth the decoders accept, and what a fill
must do with it. ``tests/test_formats.py`` checks every row through the HTTP API and the CLI;
``benchmarks/web_fuzz.py`` sends every row to a real server and prints the table with what happened.

Every file is written here by Pillow, by tifffile (MinIsWhite, 16-bit colour) or byte by byte where neither
writes it (16-bit colour PNG, 4- and 16-bit BMP, a YCCK JPEG: a CMYK JPEG whose Adobe marker says YCCK).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

W, H = 64, 48
HOLE = (slice(10, 30), slice(20, 40))  # rows, columns of the hole in every case


@dataclass(frozen=True)
class FormatCase:
    """One row: ``outcome`` is ``exact`` (format, mode, bit depth and known pixels kept), ``lossy`` (format and
    mode kept; known pixels within a few levels), or ``refused`` (``status`` and ``words`` of the 4xx)."""

    name: str
    make: Callable[[], bytes]
    outcome: str
    note: str = ""
    status: int = 200
    words: tuple[str, ...] = ()
    same_depth: bool = True  # False where the writer cannot store the source's depth (the note says what)


def _rgb(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    # Smooth colour ramps plus noise: photo-like, and palette quantisation keeps many distinct colours.
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x * 4, y * 5, (x + y) * 2], axis=2) + rng.integers(0, 40, (H, W, 3))
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))


def _save(image: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _tifffile(array: np.ndarray, **kwargs: Any) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, array, **kwargs)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png16(colour_type: int, channels: int) -> bytes:
    """A 16-bit PNG (Pillow writes 16-bit grey only)."""
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 65536, (H, W * channels), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\0" + row.tobytes() for row in rows)
    ihdr = struct.pack(">IIBBBBB", W, H, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + (_png_chunk(b"IEND", b""))
    )


def bmp(bits: int) -> bytes:
    """An uncompressed BMP of 4 bits (16-colour palette) or 16 bits (5-5-5) per pixel (Pillow writes neither)."""
    rng = np.random.default_rng(2)
    if bits == 4:
        palette = b"".join(bytes([i * 16, 255 - i * 16, (i * 40) % 256, 0]) for i in range(16))
        index = rng.integers(0, 16, (H, W), dtype=np.uint8)
        rows = [bytes((a << 4) | b for a, b in zip(r[0::2], r[1::2], strict=True)) for r in index]
    else:
        palette = b""
        rows = [rng.integers(0, 1 << 15, W, dtype=np.uint16).astype("<u2").tobytes() for _ in range(H)]
    stride = (len(rows[0]) + 3) // 4 * 4
    pixels = b"".join(r.ljust(stride, b"\0") for r in reversed(rows))  # bottom-up
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, W, H, 1, bits, 0, len(pixels), 2835, 2835, 16 if bits == 4 else 0, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


def ycck_jpeg() -> bytes:
    """A 4-channel JPEG whose Adobe APP14 marker says transform 2 (YCCK): libjpeg decodes it as YCCK."""
    data = bytearray(_save(_rgb().convert("CMYK"), "JPEG", quality=95))
    at = data.find(b"Adobe")
    data[at + 11] = 2  # "Adobe", version (2 bytes), flags0, flags1, transform
    return bytes(data)


def forged_jpeg(width: int = 10000, height: int = 10000) -> bytes:
    """A few hundred bytes of JPEG whose header claims ``width x height``: truncated, not an image."""
    data = bytearray(_save(Image.new("L", (16, 16), 128), "JPEG"))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _palette(colours: int) -> Image.Image:
    return _rgb().quantize(colours, dither=Image.Dither.NONE)


def _grey16() -> Image.Image:
    return Image.fromarray(np.random.default_rng(3).integers(0, 65536, (H, W), dtype=np.uint16))


def _frames(fmt: str, **kwargs: Any) -> bytes:
    return _save(_rgb(), fmt, save_all=True, append_images=[_rgb(1)], **kwargs)


REFUSE_DEEP = ("", 415, ("8 bits per channel",))  # note, status, words
CASES: list[FormatCase] = [
    FormatCase("PNG 1-bit grey", lambda: _save(_rgb().convert("1"), "PNG"), "exact"),
    FormatCase("PNG 2-bit grey", lambda: _save(_rgb().convert("L"), "PNG", bits=2), "exact"),
    FormatCase("PNG 8-bit grey", lambda: _save(_rgb().convert("L"), "PNG"), "exact"),
    FormatCase("PNG 16-bit grey", lambda: _save(_grey16(), "PNG"), "exact", "filled at 8 bits, written x257"),
    FormatCase("PNG RGB", lambda: _save(_rgb(), "PNG"), "exact"),
    FormatCase("PNG RGBA", lambda: _save(_rgb().convert("RGBA"), "PNG"), "exact"),
    FormatCase("PNG grey + alpha (LA)", lambda: _save(_rgb().convert("LA"), "PNG"), "exact"),
    FormatCase("PNG palette, 8-bit", lambda: _save(_palette(200), "PNG"), "exact", "fill: nearest palette colour"),
    FormatCase("PNG palette, 4-bit", lambda: _save(_palette(16), "PNG"), "exact", "fill: nearest palette colour"),
    FormatCase("PNG palette + transparent index", lambda: _save(_palette(16), "PNG", transparency=3), "exact"),
    FormatCase(
        "PNG palette + alpha per entry",
        lambda: _save(_palette(16), "PNG", transparency=bytes([0, 128, *[255] * 14])),
        "exact",
    ),
    FormatCase("PNG RGB + colour key", lambda: _save(_rgb(), "PNG", transparency=(1, 2, 3)), "exact"),
    FormatCase("PNG 16-bit RGB", lambda: png16(2, 3), "refused", *REFUSE_DEEP),
    FormatCase("PNG 16-bit RGBA", lambda: png16(6, 4), "refused", *REFUSE_DEEP),
    FormatCase("PNG 16-bit grey + alpha", lambda: png16(4, 2), "refused", *REFUSE_DEEP),
    FormatCase("PNG animated (APNG)", lambda: _frames("PNG"), "refused", "", 415, ("2 frames",)),
    FormatCase("JPEG grey", lambda: _save(_rgb().convert("L"), "JPEG", quality=95), "lossy"),
    FormatCase("JPEG RGB", lambda: _save(_rgb(), "JPEG", quality=95), "lossy"),
    FormatCase(
        "JPEG progressive", lambda: _save(_rgb(), "JPEG", quality=95, progressive=True), "lossy", "written progressive"
    ),
    FormatCase("JPEG CMYK (Adobe)", lambda: _save(_rgb().convert("CMYK"), "JPEG", quality=95), "lossy"),
    FormatCase("JPEG YCCK (Adobe transform 2)", ycck_jpeg, "lossy", "decoded to CMYK, written as CMYK"),
    FormatCase("JPEG header claiming 10000x10000", forged_jpeg, "refused", "", 400, ("truncated",)),
    *[
        FormatCase(
            f"TIFF 1-bit, {c}",
            lambda c=c: _save(_rgb().convert("1"), "TIFF", compression=c),
            "exact",
            "compression kept",
        )
        for c in ("raw", "packbits", "group3", "group4", "tiff_lzw")
    ],
    FormatCase("TIFF 8-bit grey", lambda: _save(_rgb().convert("L"), "TIFF"), "exact"),
    FormatCase(
        "TIFF 8-bit grey, MinIsWhite",
        lambda: _tifffile(np.asarray(_rgb().convert("L")), photometric="miniswhite"),
        "exact",
        "written MinIsBlack (same pixels)",
    ),
    FormatCase("TIFF palette", lambda: _save(_palette(16), "TIFF"), "exact", "fill: nearest palette colour"),
    FormatCase("TIFF RGB, LZW", lambda: _save(_rgb(), "TIFF", compression="tiff_lzw"), "exact"),
    FormatCase(
        "TIFF RGBA, deflate", lambda: _save(_rgb().convert("RGBA"), "TIFF", compression="tiff_adobe_deflate"), "exact"
    ),
    FormatCase("TIFF CMYK", lambda: _save(_rgb().convert("CMYK"), "TIFF"), "exact", "fill converted from RGB"),
    FormatCase("TIFF CIELAB", lambda: _save(_rgb().convert("LAB"), "TIFF"), "exact", "fill converted from RGB"),
    FormatCase("TIFF YCbCr", lambda: _save(_rgb().convert("YCbCr"), "TIFF"), "exact", "fill converted from RGB"),
    FormatCase(
        "TIFF RGB, JPEG-compressed",
        lambda: _save(_rgb(), "TIFF", compression="jpeg"),
        "exact",
        "decoded pixels kept; written deflate (lossless) instead of JPEG",
    ),
    FormatCase("TIFF 16-bit grey", lambda: _save(_grey16(), "TIFF"), "exact", "filled at 8 bits, written x257"),
    FormatCase(
        "TIFF 16-bit grey, big-endian",
        lambda: _tifffile(np.asarray(_grey16()), byteorder=">"),
        "exact",
        "filled at 8 bits, written x257",
    ),
    FormatCase(
        "TIFF 16-bit RGB",
        lambda: _tifffile(np.random.default_rng(4).integers(0, 65536, (H, W, 3), dtype=np.uint16), photometric="rgb"),
        "refused",
        *REFUSE_DEEP,
    ),
    FormatCase(
        "TIFF 32-bit float",
        lambda: _save(Image.fromarray(np.random.default_rng(5).random((H, W), dtype=np.float32)), "TIFF"),
        "refused",
        "",
        415,
        ("mode F", "convert"),
    ),
    FormatCase("TIFF multipage", lambda: _frames("TIFF"), "refused", "", 415, ("2 pages",)),
    FormatCase("WebP lossy", lambda: _save(_rgb(), "WEBP", quality=90), "lossy"),
    FormatCase("WebP lossless RGB", lambda: _save(_rgb(), "WEBP", lossless=True), "exact"),
    FormatCase("WebP lossless RGBA", lambda: _save(_rgb().convert("RGBA").rotate(10), "WEBP", lossless=True), "exact"),
    FormatCase("WebP animated", lambda: _frames("WEBP", lossless=True), "refused", "", 415, ("2 frames",)),
    FormatCase("BMP 1-bit", lambda: _save(_rgb().convert("1"), "BMP"), "exact"),
    FormatCase(
        "BMP 4-bit palette", lambda: bmp(4), "exact", "written as an 8-bit palette BMP (same indices)", same_depth=False
    ),
    FormatCase("BMP 8-bit palette", lambda: _save(_palette(200), "BMP"), "exact", "fill: nearest palette colour"),
    FormatCase("BMP 8-bit grey", lambda: _save(_rgb().convert("L"), "BMP"), "exact"),
    FormatCase("BMP 16-bit (5-5-5)", lambda: bmp(16), "refused", *REFUSE_DEEP),
    FormatCase("BMP 24-bit", lambda: _save(_rgb(), "BMP"), "exact"),
    FormatCase(
        "BMP 32-bit",
        lambda: _save(_rgb().convert("RGBA"), "BMP"),
        "exact",
        "read as RGB (Pillow ignores the 4th byte); written 24-bit",
        same_depth=False,
    ),
]


def mask_png() -> bytes:
    mask = np.zeros((H, W), np.uint8)
    mask[HOLE] = 255
    return _save(Image.fromarray(mask), "PNG")


def known() -> np.ndarray:
    """bool HxW: the pixels a fill must keep."""
    keep = np.ones((H, W), bool)
    keep[HOLE] = False
    return keep


def bit_depth(data: bytes) -> Any:
    """What a file stores per pixel: PNG (bit depth, colour type), BMP bits per pixel, TIFF (bits per sample,
    samples per pixel), otherwise ``None``."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return tuple(data[24:26])
    if data[:2] == b"BM":
        return struct.unpack_from("<H", data, 28)[0]
    image = Image.open(io.BytesIO(data))
    if image.format == "TIFF":
        tags = image.tag_v2  # type: ignore[attr-defined]
        return tags.get(258), tags.get(277, 1)
    return None


def lossy_tolerance(case: FormatCase) -> int:
    """Largest change of a known sample a lossy re-encode may make (quality 100, full chroma)."""
    return 24 if "WebP" in case.name else 12
