"""Reading and writing image files: EXIF orientation applied, ICC profile / EXIF kept, alpha kept, format kept.

Every failure a user can cause (missing, broken, unsupported or huge file) raises :class:`UserError` or
``FileNotFoundError`` with a message that says what was expected. Writes are atomic: a crash never leaves a
half-written output file.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from PIL.TiffImagePlugin import ImageFileDirectory_v2

from gmcnn.errors import ImageTooLarge, UnsupportedImage, UserError
from gmcnn.files import atomic_write

# 100 megapixels: well above phone photos (12-50 MP) and 8K frames, well below what a 24 GB machine can hold.
MAX_PIXELS = 100_000_000
SUPPORTED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "TIFF")
_EXTENSIONS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}
IMAGE_EXTENSIONS = tuple(_EXTENSIONS)


def format_for_path(path: str | os.PathLike[str]) -> str:
    """PIL format name for a file name's extension; a ``UserError`` for extensions we do not write."""
    ext = Path(path).suffix.lower()
    if ext not in _EXTENSIONS:
        raise UserError(f"unsupported output extension {ext or '(none)'!r} for {path}: use one of {list(_EXTENSIONS)}")
    return _EXTENSIONS[ext]


def _open(fp: Any, name: str, max_pixels: int) -> Image.Image:
    img = _open_header(fp, name, max_pixels)
    fmt = img.format
    try:
        img.load()
        # In place: no second copy of a large image; the orientation is applied and the tag reset.
        ImageOps.exif_transpose(img, in_place=True)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{name} is too large: more than {max_pixels:,} pixels") from None
    except Exception as exc:  # noqa: BLE001  any decoder failure on user bytes is the file's fault, not ours
        raise UserError(f"{name} is damaged or truncated ({type(exc).__name__}: {exc})") from None
    img.format = fmt  # type: ignore[misc]  # a transpose may drop it; save_image(like=...) needs it
    if fmt == "WEBP":
        img.info["lossless"] = _webp_is_lossless(fp)  # PIL does not say; the encoder must know
    return img


def _open_header(fp: Any, name: str, max_pixels: int) -> Image.Image:
    """Open lazily (the header only) and check the format and the size before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked below from the header; PIL's global one only for extreme files.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(fp)
    except UnidentifiedImageError:
        raise UnsupportedImage(
            f"{name} is not an image in a supported format ({', '.join(SUPPORTED_FORMATS)})"
        ) from None
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"{name} is too large: more than {max_pixels:,} pixels") from None
    except Exception as exc:  # noqa: BLE001  a cut-off or mangled header (PIL raises OSError, SyntaxError, ...)
        raise UserError(f"{name} is damaged or truncated ({type(exc).__name__}: {exc})") from None
    fmt = img.format
    if fmt not in SUPPORTED_FORMATS:
        raise UnsupportedImage(f"{name} is a {fmt} image; supported formats are {', '.join(SUPPORTED_FORMATS)}")
    w, h = img.size
    if w * h > max_pixels:
        raise ImageTooLarge(
            f"{name} is {w}x{h} = {w * h:,} pixels, more than the limit of {max_pixels:,} "
            f"(gmcnn accepts up to {max_pixels / 1e6:g} MP here)"
        )
    if w <= 0 or h <= 0:
        raise UserError(f"{name} is empty ({w}x{h})")
    try:
        _check_faithful(img, name, fp)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001  counting frames reads every IFD / chunk: a mangled one fails here
        raise UserError(f"{name} is damaged or truncated ({type(exc).__name__}: {exc})") from None
    return img


# Decoder raw modes that hold more than the mode Pillow gives back (16 bits per colour sample, 5-6 bit BMP
# colours): decoding them would drop bits silently, so they are refused before any pixel is decoded.
_LOSSY_RAWMODE_PARTS = (";16", ";15", ";12", ";32", ";64")
# Writers keep these bit depths only when told (PNG grey below 8 bits; Pillow picks a palette's from its size).
SOURCE_BITS = "gmcnn.bits"


def _check_faithful(img: Image.Image, name: str, fp: Any) -> None:
    """Refuse files gmcnn would not give back whole: several frames, samples wider than Pillow decodes, or a
    header that promises far more pixels than the file's bytes can hold (a truncated or forged file)."""
    fmt, (w, h) = img.format, img.size
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        what = "pages" if fmt == "TIFF" else "frames"
        raise UnsupportedImage(
            f"{name} is a {fmt} with {frames} {what}; gmcnn fills one image per file: save the {what[:-1]} "
            f"to fill as its own file"
        )
    tile = getattr(img, "tile", None)  # the decoder's plan: (codec, box, offset, rawmode or (rawmode, ...))
    args = tile[0][3] if tile else ""
    rawmode = str(args[0] if isinstance(args, tuple) else args)
    full = img.mode in ("I", "F") or img.mode.startswith("I;16")  # decoded whole (refused later if unfillable)
    if not full and any(part in rawmode for part in _LOSSY_RAWMODE_PARTS):
        raise UnsupportedImage(
            f"{name} is a {fmt} with more than 8 bits per colour sample ({rawmode}); gmcnn gives back 8-bit colour "
            f"or 16-bit grey exactly: convert it to 8 bits per channel first"
        )
    if fmt == "PNG" and rawmode in ("L;2", "L;4"):
        img.info[SOURCE_BITS] = int(rawmode[-1])
    fp.seek(0, os.SEEK_END)
    size = fp.tell()
    need = _min_encoded_bytes(fmt, w, h, len(img.getbands()))
    if size < need:
        raise UserError(
            f"{name} is truncated or damaged: its header says {w}x{h} but the file holds {size:,} bytes, and a "
            f"{fmt} of that size needs at least {need:,}"
        )


def _min_encoded_bytes(fmt: str | None, w: int, h: int, bands: int) -> int:
    """A lower bound on the bytes any valid file of this size holds, for the formats that have one.

    JPEG (Huffman-coded): every 8x8 block of the full-resolution component costs at least one bit, and
    components are subsampled at most 4x. PNG: deflate expands at most 1032:1 (a 258-byte match in two bits).
    """
    if fmt == "JPEG":
        return math.ceil(w / 8) * math.ceil(h / 8) // 32
    if fmt == "PNG":
        return h * (1 + math.ceil(w * bands / 8)) // 1040  # at least one bit per sample per pixel
    return 0


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding its pixels."""

    format: str
    width: int
    height: int
    mode: str


def read_header(data: bytes, *, name: str = "upload", max_pixels: int = MAX_PIXELS) -> ImageHeader:
    """Format, size and mode of an encoded image, with the same checks as :func:`decode_image` (no decoding).

    The size is the stored one (before EXIF orientation): it bounds the memory a decode will need.
    """
    if not data:
        raise UserError(f"{name} is empty (0 bytes)")
    img = _open_header(io.BytesIO(data), name, max_pixels)
    return ImageHeader(str(img.format), img.width, img.height, img.mode)


def _webp_is_lossless(fp: Any) -> bool:
    """True when a WebP file's image is VP8L (lossless); the RIFF chunks say it, PIL's ``info`` does not.

    A simple file is ``RIFF size WEBP`` + one ``VP8 `` (lossy) or ``VP8L`` chunk; an extended one starts with
    ``VP8X`` and holds its image chunk (or animation frames, read as lossy) further on.
    """
    fp.seek(0)
    head = fp.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return False
    while True:
        chunk = fp.read(8)
        if len(chunk) < 8:
            return False
        fourcc, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if fourcc in (b"VP8L", b"VP8 ", b"ANMF"):
            return fourcc == b"VP8L"
        fp.seek(size + (size & 1), 1)  # chunks are padded to an even size


def load_image(path: str | os.PathLike[str], *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file with its EXIF orientation applied; ``.format`` and ``.info`` (ICC, EXIF) are kept."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder, expected an image file")
    with open(path, "rb") as fh:
        return _open(fh, str(path), max_pixels)


def decode_image(data: bytes, *, name: str = "upload", max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Like :func:`load_image` for bytes (HTTP uploads)."""
    if not data:
        raise UserError(f"{name} is empty (0 bytes)")
    return _open(io.BytesIO(data), name, max_pixels)


# The modes each writer stores as they are; any other mode is converted by :func:`_writable` first.
WRITABLE_MODES = {
    "PNG": ("1", "L", "LA", "P", "I;16", "I;16B", "RGB", "RGBA"),
    "JPEG": ("L", "RGB", "CMYK"),
    "WEBP": ("RGB", "RGBA"),
    "BMP": ("1", "L", "P", "RGB", "RGBA"),
    "TIFF": ("1", "L", "LA", "P", "I;16", "I;16B", "I;16L", "RGB", "RGBA", "CMYK", "LAB", "YCbCr"),
}
# TIFF compressions written again as they were; JPEG-in-TIFF (lossy) and the rest are written as deflate,
# which keeps every pixel. CCITT fax coding exists for 1-bit images only.
_TIFF_KEEP = ("raw", "packbits", "tiff_lzw", "tiff_adobe_deflate")
_TIFF_BILEVEL = ("group3", "group4")
# Descriptive TIFF tags carried to the output. Structure tags (size, samples, photometric, compression,
# strips, colour map, ...) are written by the encoder from the image it writes, never copied.
_TIFF_META_TAGS = (269, 270, 271, 272, 282, 283, 285, 296, 305, 306, 315, 316, 700, 33432)


def _writable(image: Image.Image, fmt: str) -> Image.Image:
    """``image`` in a mode ``fmt`` stores: itself when it can, else the nearest lossless-enough mode."""
    if image.mode in WRITABLE_MODES[fmt]:
        return image
    if image.mode.startswith("I;16"):
        if fmt == "PNG" or fmt == "TIFF":
            return image.convert("I;16")
        wide = np.asarray(image).astype(np.uint32)
        return Image.fromarray(((wide + 128) // 257).astype(np.uint8))
    alpha = image.mode in ("LA", "PA", "RGBA") or (image.mode == "P" and "transparency" in image.info)
    if fmt == "JPEG" and alpha:
        raise UserError(f"JPEG cannot store an image with alpha (mode {image.mode}); write PNG or WEBP")
    if image.mode == "1" and fmt == "JPEG":
        return image.convert("L")
    return image.convert("RGBA" if alpha else "RGB")


def _save_kwargs(image: Image.Image, fmt: str, like: Image.Image | None) -> dict[str, Any]:
    info = dict(like.info) if like is not None else dict(image.info)
    kwargs: dict[str, Any] = {}
    if info.get("icc_profile"):
        kwargs["icc_profile"] = info["icc_profile"]
    if like is not None and fmt in ("JPEG", "PNG", "WEBP"):
        exif = like.getexif()
        if exif and like.format != "TIFF":  # a TIFF's "EXIF" is its whole tag set, structure included
            exif[0x0112] = 1  # pixels are stored upright now; keep the tag from rotating them again
            kwargs["exif"] = exif.tobytes()
    if fmt == "JPEG":
        # JPEG cannot be re-encoded exactly; quality 100 with full chroma drifts least (at most a few levels
        # per generation, benchmarks/jpeg_drift.py). Ask for PNG output where every known pixel must stay.
        kwargs.update(quality=100, subsampling=0, progressive=bool(info.get("progressive")))
    elif fmt == "PNG":
        kwargs["compress_level"] = 1  # lossless either way; level 6 costs 3x the time on 12 MP for ~3 % size
        if image.mode == "L" and info.get(SOURCE_BITS):
            kwargs["bits"] = info[SOURCE_BITS]  # 2- or 4-bit grey: the source's levels pack back exactly
    elif fmt == "WEBP":
        if like is not None and like.info.get("lossless"):
            # exact=True keeps the colour under fully transparent pixels too (byte-identical RGBA).
            kwargs.update(lossless=True, quality=100, exact=True)
        else:
            kwargs.update(lossless=False, quality=95)
    elif fmt == "TIFF":
        kwargs.update(_tiff_kwargs(image, like))
    return kwargs


def _tiff_kwargs(image: Image.Image, like: Image.Image | None) -> dict[str, Any]:
    """A clean TIFF tag set: the source's compression where it is lossless and fits the mode, its descriptive
    tags (resolution, description, XMP, ...) and nothing else."""
    source = like.info.get("compression") if like is not None else None
    bilevel = image.mode == "1" and source in _TIFF_BILEVEL
    compression = source if source in _TIFF_KEEP or bilevel else "tiff_adobe_deflate"
    tags: Any = getattr(like, "tag_v2", None) or ImageFileDirectory_v2()
    info = ImageFileDirectory_v2()
    for tag in _TIFF_META_TAGS:
        if tag in tags:
            info[tag] = tags[tag]
            info.tagtype[tag] = tags.tagtype[tag]
    return {"compression": compression, "tiffinfo": info}


def encode_image(image: Image.Image, fmt: str, *, like: Image.Image | None = None) -> bytes:
    """Encode to bytes in ``fmt`` keeping ``like``'s ICC profile and EXIF (orientation reset).

    The image keeps its mode where ``fmt`` can store it (:data:`WRITABLE_MODES`); otherwise it is converted
    (CMYK, LAB, YCbCr -> RGB, a palette with transparency -> RGBA, 16-bit grey -> 8-bit for JPEG, ...).
    """
    fmt = fmt.upper()
    if fmt not in SUPPORTED_FORMATS:
        raise UserError(f"cannot write {fmt}; supported formats are {', '.join(SUPPORTED_FORMATS)}")
    image = _writable(image, fmt)
    buf = io.BytesIO()
    image.save(buf, format=fmt, **_save_kwargs(image, fmt, like))
    return buf.getvalue()


def save_image(image: Image.Image, path: str | os.PathLike[str], *, like: Image.Image | None = None) -> Path:
    """Write ``image`` atomically; the format follows the extension, metadata follows ``like``."""
    data = encode_image(image, format_for_path(path), like=like)
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
