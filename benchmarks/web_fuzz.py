"""API fuzz: bad and mutated uploads against a real ``gmcnn serve``, over one keep-alive connection.

Every answer must be a 4xx (or a 200 where a mutation still decodes); a 5xx, a dropped connection or a dead
server fails. Cases: cut-off headers and bodies of every supported format and mode, random byte mutations
of images and masks, and decompression bombs (headers that claim billions of pixels).

    python3 benchmarks/web_fuzz.py [--count 1200] [--seed 0]

writes ``benchmarks/results/web/fuzz.json``. ``tests/test_app.py`` runs a few hundred of the same cases.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = "gmcnnfuzzboundary"


@dataclass(frozen=True)
class Case:
    name: str
    image: bytes
    mask: bytes


def encode(array: np.ndarray, fmt: str, mode: str | None = None, **kwargs: Any) -> bytes:
    img = Image.fromarray(array)
    if mode:
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def valid_images(rgb: np.ndarray) -> dict[str, bytes]:
    """One small file per supported format and mode."""
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])
    return {
        "png-rgb": encode(rgb, "PNG"),
        "png-rgba": encode(rgba, "PNG"),
        "png-l": encode(rgb, "PNG", "L"),
        "png-p": encode(rgb, "PNG", "P"),
        "jpeg-rgb": encode(rgb, "JPEG", quality=90),
        "jpeg-l": encode(rgb, "JPEG", "L"),
        "webp-lossy": encode(rgb, "WEBP"),
        "webp-lossless": encode(rgba, "WEBP", lossless=True),
        "bmp-rgb": encode(rgb, "BMP"),
        "bmp-l": encode(rgb, "BMP", "L"),
        "tiff-rgb": encode(rgb, "TIFF"),
        "tiff-rgba": encode(rgba, "TIFF", compression="tiff_deflate"),
    }


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bombs(images: dict[str, bytes]) -> dict[str, bytes]:
    """Files whose headers claim far more pixels than any server should decode."""
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    out = {
        "png-60000x60000": b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b""))
        + _png_chunk(b"IEND", b"")
    }
    ihdr = struct.pack(">IIBBBBB", 10001, 10001, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\0" * 10002 * 64)  # a few real rows of a 100 MP grey image: 413 from the header
    out["png-10001x10001"] = (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")
    )
    jpeg = bytearray(images["jpeg-rgb"])
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    out["jpeg-65000x65000"] = bytes(jpeg)
    bmp = bytearray(images["bmp-rgb"])
    bmp[18:26] = struct.pack("<ii", 50000, 50000)
    out["bmp-50000x50000"] = bytes(bmp)
    webp = bytearray(images["webp-lossless"])
    bits = 0x3FFF | (0x3FFF << 14) | (int.from_bytes(webp[21:25], "little") & ~((1 << 28) - 1))
    webp[21:25] = bits.to_bytes(4, "little")  # VP8L: 14-bit width-1 and height-1 after the signature byte
    out["webp-16384x16384"] = bytes(webp)
    out["tiff-60000x60000"] = _tiff_with_size(images["tiff-rgb"], 60000, 60000)
    return out


def _tiff_with_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the ImageWidth/ImageLength tags of a little-endian TIFF's first IFD."""
    tiff = bytearray(data)
    ifd = struct.unpack_from("<I", tiff, 4)[0]
    for i in range(struct.unpack_from("<H", tiff, ifd)[0]):
        at = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", tiff, at)
        if tag in (256, 257):
            value = width if tag == 256 else height
            struct.pack_into("<I" if kind == 4 else "<H", tiff, at + 8, value)
    return bytes(tiff)


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """Replace, insert or delete a few random bytes (most often in the header, where parsers are weakest)."""
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        limit = min(len(buf), 64) if rng.random() < 0.6 else len(buf)
        at = int(rng.integers(0, max(1, limit)))
        action = rng.random()
        if action < 0.7:
            buf[at] = int(rng.integers(0, 256))
        elif action < 0.85:
            buf[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
        else:
            del buf[at : at + int(rng.integers(1, 16))]
    return bytes(buf)


def fuzz_cases(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, count: int) -> list[Case]:
    """About ``count`` bad uploads: a third header cut-offs, a third cut bodies and bombs, a third mutations."""
    images = valid_images(rgb)
    good_mask = encode(mask, "PNG")
    cases = [Case(f"bomb {name}", data, good_mask) for name, data in bombs(images).items()]
    cases += [Case("empty image", b"", good_mask), Case("text", b"hello, not an image", good_mask)]
    cases.append(Case("gif", encode(rgb, "GIF"), good_mask))
    per_format = max(1, count // (3 * len(images)))
    for name, data in images.items():
        head = min(len(data) - 1, 96)
        for n in np.linspace(1, head, per_format).astype(int):
            cases.append(Case(f"{name} header cut at {n}", data[:n], good_mask))
        for n in np.linspace(head, len(data) - 1, max(2, per_format // 2)).astype(int):
            cases.append(Case(f"{name} body cut at {n}", data[:n], good_mask))
    while len(cases) < count:
        name = list(images)[int(rng.integers(len(images)))]
        if rng.random() < 0.8:
            cases.append(Case(f"{name} mutated", mutate(images[name], rng), good_mask))
        else:
            cases.append(Case(f"mask mutated ({name})", images[name], mutate(good_mask, rng)))
    return cases


def multipart(case: Case) -> tuple[bytes, str]:
    parts = []
    for field, data in (("image", case.image), ("mask", case.mask)):
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{field}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


def send_cases(host: str, port: int, cases: list[Case], final: Case) -> dict[str, Any]:
    """Send every case on one keep-alive connection, then ``final`` (a valid fill) on the same one."""
    conn = http.client.HTTPConnection(host, port, timeout=120)
    conn.connect()
    first_socket = conn.sock
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    start = time.perf_counter()
    for case in [*cases, final]:
        body, kind = multipart(case)
        conn.request("POST", "/api/v1/inpaint", body=body, headers={"Content-Type": kind})
        response = conn.getresponse()
        answer = response.read()
        if case is not final:
            statuses[response.status] += 1
        if response.status >= 500:
            server_errors.append(f"{case.name}: {response.status} {answer[:200]!r}")
    final_status = response.status
    same_connection = conn.sock is first_socket
    conn.close()
    return {
        "requests": len(cases),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": len(server_errors),
        "server_error_cases": server_errors[:20],
        "final_valid_fill_status": final_status,
        "one_connection": same_connection,
        "seconds": round(time.perf_counter() - start, 1),
    }


def sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A 48x40 crop of a photo and a mask with one hole."""
    rgb = np.asarray(Image.open(path).convert("RGB").resize((128, 128)))[40:80, 40:88].copy()
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[12:24, 16:32] = 255
    return rgb, mask


def _serve(port: int) -> Iterator[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "gmcnn", "serve", "--port", str(port), "--device", "cpu"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def wait_for(port: int, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/web/fuzz.json")
    args = parser.parse_args()
    rgb, mask = sample(ROOT / "examples/astronaut.png")
    cases = fuzz_cases(rgb, mask, np.random.default_rng(args.seed), count=args.count)
    final = Case("valid fill", encode(rgb, "PNG"), encode(mask, "PNG"))
    port = free_port()
    for proc in _serve(port):
        wait_for(port, proc)
        result = send_cases("127.0.0.1", port, cases, final)
        result["server_alive"] = proc.poll() is None
    result.update(command=f"python3 benchmarks/web_fuzz.py --count {args.count} --seed {args.seed}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['requests']} bad or mutated uploads: statuses {result['statuses']}, 5xx: {result['server_errors']}")
    print(
        f"valid fill afterwards on the same connection: {result['final_valid_fill_status']} "
        f"(one connection: {result['one_connection']}); server alive: {result['server_alive']}"
    )
    for line in result["server_error_cases"]:
        print("  5xx:", line)


if __name__ == "__main__":
    main()
