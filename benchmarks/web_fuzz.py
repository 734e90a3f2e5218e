"""API fuzz: bad, mutated and hostile requests against a real ``gmcnn serve``, over one keep-alive connection.

Every answer must be a 4xx or a 200 that holds a readable image whose known pixels are the upload's (exactly,
for lossless formats); a 5xx, an unreadable 200, a changed known pixel, a dropped connection or a dead server
fails. Groups of cases:

* the format table (``tests/helpers/formats.py``): every format, mode and bit depth, each kept or refused as
  the README's "Exactness" table says;
* cut-off headers and bodies of every format and mode, random byte mutations of images and masks, and
  decompression bombs (headers that claim billions of pixels, a JPEG that claims 100 MP in 400 bytes);
* hostile options: ``strategy=resize, process_size=8192`` and ``strategy=original`` on a 10000x10000 upload
  (refused from the header, 413), large grow / feather / detail, unknown fields and query options (422);
* protocol: HEAD, a cross-scheme Origin, a foreign Host, and bodies that stop arriving (408, connection closed).

    python3 benchmarks/web_fuzz.py [--count 1500] [--seed 0] [--smoke]

writes ``benchmarks/results/web/fuzz.json`` and the table ``fuzz.md``. ``tests/test_app.py`` runs a few hundred
of the same cases; ``tests/test_formats.py`` checks the format table in-process.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import socket
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = "gmcnnfuzzboundary"
IDLE_CLOSE_S = 4.5  # uvicorn's keep-alive timeout is 5 s


@dataclass(frozen=True)
class Case:
    """One request: ``expect`` is the set of statuses the server should answer (empty: any but a 5xx)."""

    name: str
    image: bytes
    mask: bytes
    group: str = "mutated"
    fields: dict[str, str] = field(default_factory=dict)
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/api/v1/inpaint"
    expect: frozenset[int] = frozenset()
    outcome: str = ""  # format table rows: exact | lossy | refused


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
        "png-1": encode(rgb, "PNG", "1"),
        "jpeg-rgb": encode(rgb, "JPEG", quality=90),
        "jpeg-l": encode(rgb, "JPEG", "L"),
        "jpeg-cmyk": encode(rgb, "JPEG", "CMYK"),
        "webp-lossy": encode(rgb, "WEBP"),
        "webp-lossless": encode(rgba, "WEBP", lossless=True),
        "bmp-rgb": encode(rgb, "BMP"),
        "bmp-l": encode(rgb, "BMP", "L"),
        "tiff-rgb": encode(rgb, "TIFF"),
        "tiff-rgba": encode(rgba, "TIFF", compression="tiff_deflate"),
        "tiff-1-g4": encode(rgb, "TIFF", "1", compression="group4"),
        "tiff-cmyk": encode(rgb, "TIFF", "CMYK"),
        "tiff-lab": encode(rgb, "TIFF", "LAB"),
        "tiff-p": encode(rgb, "TIFF", "P"),
    }


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bombs(images: dict[str, bytes]) -> dict[str, bytes]:
    """Files whose headers claim far more pixels than any server should decode, or than their bytes hold."""
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
    ihdr = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)  # within the pixel limit, ten rows of data
    out["png-9000x9000-ten-rows"] = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 9001 * 10))
        + _png_chunk(b"IEND", b"")
    )
    jpeg = bytearray(images["jpeg-rgb"])
    sof = jpeg.find(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)
    out["jpeg-65000x65000"] = bytes(jpeg)
    small = bytearray(encode(np.full((16, 16), 128, np.uint8), "JPEG"))
    sof = small.find(b"\xff\xc0")
    small[sof + 5 : sof + 9] = struct.pack(">HH", 10000, 10000)
    out["jpeg-10000x10000-in-400-bytes"] = bytes(small)
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
    cases = [Case(f"bomb {name}", data, good_mask, "bomb") for name, data in bombs(images).items()]
    cases += [Case("empty image", b"", good_mask, "bomb"), Case("text", b"hello, not an image", good_mask, "bomb")]
    cases.append(Case("gif", encode(rgb, "GIF"), good_mask, "bomb"))
    per_format = max(1, count // (3 * len(images)))
    for name, data in images.items():
        head = min(len(data) - 1, 96)
        for n in np.linspace(1, head, per_format).astype(int):
            cases.append(Case(f"{name} header cut at {n}", data[:n], good_mask, "cut header"))
        for n in np.linspace(head, len(data) - 1, max(2, per_format // 2)).astype(int):
            cases.append(Case(f"{name} body cut at {n}", data[:n], good_mask, "cut body"))
    while len(cases) < count:
        name = list(images)[int(rng.integers(len(images)))]
        if rng.random() < 0.8:
            cases.append(Case(f"{name} mutated", mutate(images[name], rng), good_mask, "mutated"))
        else:
            cases.append(Case(f"mask mutated ({name})", images[name], mutate(good_mask, rng), "mask mutated"))
    return cases


def format_cases() -> list[Case]:
    """Every row of the format table (tests/helpers/formats.py), with the status its outcome needs."""
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.formats import CASES, mask_png

    return [
        Case(c.name, c.make(), mask_png(), "format table", expect=frozenset({c.status}), outcome=c.outcome)
        for c in CASES
    ]


def _flat_png(side: int) -> bytes:
    """A ``side`` x ``side`` RGB PNG that compresses well (a few hundred KB for 100 MP)."""
    row = (np.arange(side, dtype=np.uint32) * 255 // side).astype(np.uint8)
    image = Image.fromarray(np.repeat(row[None, :], side, axis=0)).convert("RGB")
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def _mask(side: int, holes: list[tuple[int, int, int, int]]) -> bytes:
    m = np.zeros((side, side), np.uint8)
    for top, left, h, w in holes:
        m[top : top + h, left : left + w] = 255
    return encode(m, "PNG")


def hostile_cases(rgb: np.ndarray, mask: np.ndarray, *, large: bool = True) -> list[Case]:
    """Legal requests that would exhaust a server without one memory rule, and fields sent wrongly."""
    image, good_mask = encode(rgb, "PNG"), encode(mask, "PNG")
    out: list[Case] = []
    if large:
        huge, huge_mask = _flat_png(10000), _mask(10000, [(3000, 2500, 120, 200), (6600, 5000, 80, 80)])
        # detail 0 or 0.5: the network runs (at full detail it does not, and its memory is not counted)
        for fields in ({"strategy": "resize", "process_size": "8192", "detail": "0"},
                       {"strategy": "original", "detail": "0"},
                       {"strategy": "resize", "process_size": "4096", "detail": "0.5"}):  # fmt: skip
            out.append(
                Case(f"10000x10000 {fields}", huge, huge_mask, "hostile options", fields, expect=frozenset({413}))
            )
        out.append(Case("10000x10000 crop (fits)", huge, huge_mask, "hostile options", expect=frozenset({200})))
        mid, mid_mask = _flat_png(2000), _mask(2000, [(600, 700, 200, 300)])
        for fields in ({"grow": "128", "feather": "128"}, {"detail": "0.5"},
                       {"strategy": "resize", "process_size": "8192"}):  # fmt: skip
            out.append(Case(f"2000x2000 {fields}", mid, mid_mask, "hostile options", fields, expect=frozenset({200})))
    unknown = [({"strenght": "3"}, ""), ({}, "?grow=4"), ({}, "?strategy=crop&debug=1"), ({"Grow": "2"}, "")]
    for fields, query in unknown:
        out.append(Case(f"unknown {fields or query}", image, good_mask, "hostile options", fields, query,
                        expect=frozenset({422})))  # fmt: skip
    for name, value in (("process_size", "99999"), ("grow", "-1"), ("detail", "2"), ("output", "gif")):
        out.append(Case(f"bad {name}={value}", image, good_mask, "hostile options", {name: value},
                        expect=frozenset({422})))  # fmt: skip
    return out


def protocol_cases(rgb: np.ndarray, mask: np.ndarray) -> list[Case]:
    image, good_mask = encode(rgb, "PNG"), encode(mask, "PNG")
    out = [Case(f"HEAD {p}", b"", b"", "protocol", method="HEAD", path=p, expect=frozenset({200}))
           for p in ("/", "/api/v1/health", "/docs", "/openapi.json", "/static/js/painter.js")]  # fmt: skip
    # Refused from the headers, before the body is read: sent without one (a server that closes a connection
    # with unread bytes in it resets it, and the client may lose the answer).
    for origin, status in (("https://127.0.0.1:{port}", 403), ("http://127.0.0.1:1", 403), ("null", 403),
                           ("http://127.0.0.1:{port}", 200)):  # fmt: skip
        body = (image, good_mask) if status == 200 else (b"", b"")
        out.append(Case(f"Origin {origin}", *body, "protocol", headers={"Origin": origin},
                        expect=frozenset({status})))  # fmt: skip
    out.append(Case("Host evil.example", b"", b"", "protocol", headers={"Host": "evil.example"},
                    expect=frozenset({400})))  # fmt: skip
    out += [Case("check", image, b"", "protocol", path="/api/v1/check", expect=frozenset({200}))]
    return out


def multipart(case: Case) -> tuple[bytes, str]:
    parts = []
    uploads = [("image", case.image)] + ([("mask", case.mask)] if case.path == "/api/v1/inpaint" else [])
    for name, data in uploads:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n")
    for name, value in case.fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class Tally:
    """What happened, per group of cases."""

    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    problems: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: list[str] = field(default_factory=list)
    formats: list[dict[str, Any]] = field(default_factory=list)
    compared: Counter[str] = field(default_factory=Counter)  # 200s whose known pixels were compared exactly

    def problem(self, case: Case, kind: str, text: str) -> None:
        self.problems[case.group][kind] += 1
        if len(self.examples) < 30:
            self.examples.append(f"{kind}: {case.name}: {text}")


def _known_pixels(case: Case) -> tuple[np.ndarray, np.ndarray] | None:
    """The upload as the server decodes it and the bool pixels it must keep, when its format is lossless."""
    from gmcnn.errors import UserError
    from gmcnn.inpainting.image import normalize_mask
    from gmcnn.io import decode_image
    from gmcnn.web.uploads import exactness

    try:
        source = decode_image(case.image)
        hole = normalize_mask(decode_image(case.mask), (source.height, source.width))
    except UserError:
        return None
    if not exactness(source)["lossless"] or case.fields.get("grow") or case.fields.get("feather"):
        return None
    return np.asarray(source), ~hole


def check_answer(case: Case, status: int, answer: bytes, tally: Tally) -> None:
    """Tally one answer: a 5xx, an unexpected status, an unreadable image or a changed known pixel."""
    tally.statuses[case.group][status] += 1
    if status >= 500:
        tally.problem(case, "5xx", f"{status} {answer[:160]!r}")
    if case.expect and status not in case.expect:
        tally.problem(case, "unexpected status", f"{status}, expected {sorted(case.expect)}: {answer[:160]!r}")
    row = {"case": case.name, "expected": case.outcome, "status": status}
    if status == 200 and case.path == "/api/v1/inpaint" and case.method == "POST":
        try:
            out = Image.open(io.BytesIO(answer))
            out.load()
        except Exception as exc:  # noqa: BLE001  anything Pillow cannot read back is the finding
            tally.problem(case, "unreadable 200", f"{type(exc).__name__}: {exc}")
            out = None
        known = _known_pixels(case) if out is not None else None
        if out is not None and known is not None:
            source, keep = known
            result = np.asarray(out)
            tally.compared[case.group] += 1
            if result.shape != source.shape or not np.array_equal(result[keep], source[keep]):
                tally.problem(case, "known pixels changed", f"{out.format} {out.mode}")
            else:
                row["kept"] = "exactly"
        if out is not None:
            row["answer"] = f"{out.format} {out.mode}"
    if case.group == "format table":
        tally.formats.append(row)


def send_cases(host: str, port: int, cases: list[Case], final: Case, tally: Tally | None = None) -> dict[str, Any]:
    """Send every case on one keep-alive connection, then ``final`` (a valid fill) on the same one."""
    tally = tally or Tally()
    conn = http.client.HTTPConnection(host, port, timeout=600)
    conn.connect()
    first_socket = conn.sock
    start = time.perf_counter()
    response = None
    answers: list[tuple[Case, int, bytes]] = []  # checked after the last request: uvicorn drops a connection
    # that stays idle for 5 s, and decoding a 100 MP answer to compare its pixels takes longer
    last, reconnects = time.monotonic(), 0
    for case in [*cases, final]:
        bodyless = case.method != "POST" or (case.group == "protocol" and not case.image)
        body, kind = (None, "") if bodyless else multipart(case)
        headers = {"Content-Type": kind} if body is not None else {"Content-Length": "0"}
        headers.update({k: v.replace("{port}", str(port)) for k, v in case.headers.items()})
        # A request refused from its headers (Origin, Host) is answered before its body is read, and then
        # the server closes that connection: those go on one of their own.
        alone = case.group == "protocol" and case.method == "POST"
        use = http.client.HTTPConnection(host, port, timeout=600) if alone else conn
        idle = time.monotonic() - last
        try:
            try:
                use.request(case.method, case.path + case.query, body=body, headers=headers)
                response = use.getresponse()
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                if alone or idle < IDLE_CLOSE_S:
                    raise
                # uvicorn closes a keep-alive connection idle for 5 s (a niced client on a busy machine can be
                # descheduled that long): what any HTTP client does, reconnect and send it again, once
                reconnects += 1
                conn = use = http.client.HTTPConnection(host, port, timeout=600)
                use.request(case.method, case.path + case.query, body=body, headers=headers)
                response = use.getresponse()
            answer = response.read()
        except OSError as exc:  # a dropped connection is a finding: note it, reconnect, go on
            tally.problem(case, "connection error", f"{type(exc).__name__}: {exc} (idle {idle:.1f} s before)")
            response = None
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=600)
            continue
        last = time.monotonic()
        if alone:
            use.close()
        if case is not final:
            answers.append((case, response.status, answer))
    same_connection = conn.sock is first_socket
    conn.close()
    seconds = round(time.perf_counter() - start, 1)
    for case, status, answer in answers:
        check_answer(case, status, answer, tally)
    statuses: Counter[int] = Counter()
    for counts in tally.statuses.values():
        statuses.update(counts)
    errors = sum(p["5xx"] for p in tally.problems.values())
    return {
        "requests": len(cases),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": errors,
        "server_error_cases": [e for e in tally.examples if e.startswith("5xx")][:20],
        "final_valid_fill_status": response.status if response is not None else None,
        "one_connection": same_connection,
        "idle_reconnects": reconnects,
        "seconds": seconds,
    }


def stalled_bodies(port: int, count: int, tally: Tally, timeout: float) -> None:
    """Bodies that stop arriving: headers promise 10,000 bytes, 100 come; each must get 408 and be closed."""
    case = Case("stalled body", b"", b"", "protocol", expect=frozenset({408}))
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=timeout * 4 + 30) as sock:
            head = (
                "POST /api/v1/inpaint HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10000\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
            )
            part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="i"\r\n\r\n'
            sock.sendall(head.encode() + part.encode() + b"x" * 100)
            start, answer = time.monotonic(), b""
            while chunk := sock.recv(65536):
                answer += chunk
            waited = time.monotonic() - start
        status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0
        check_answer(case, status, answer, tally)
        if waited > timeout * 3:
            tally.problem(case, "slow close", f"closed after {waited:.1f} s")


def sample(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A 48x40 crop of a photo and a mask with one hole."""
    rgb = np.asarray(Image.open(path).convert("RGB").resize((128, 128)))[40:80, 40:88].copy()
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[12:24, 16:32] = 255
    return rgb, mask


def start_server(port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``gmcnn serve`` on ``port``; its stderr goes to a temporary file (a pipe nobody reads fills up with
    libtiff's warnings about damaged uploads, and then the server blocks writing the next one)."""
    cmd = [sys.executable, "-m", "gmcnn", "serve", "--port", str(port), "--device", "cpu", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=tempfile.TemporaryFile())


def _serve(port: int, *extra: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_server(port, *extra)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def wait_for(port: int, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def table(result: dict[str, Any], tally: Tally) -> str:
    """The markdown report: one row per group, then the format table as the server answered it."""
    kinds = ("5xx", "unreadable 200", "known pixels changed", "unexpected status", "connection error", "slow close")
    lines = [
        f"`{result['command']}`: {result['requests']} requests in {result['seconds']} s, server alive: "
        f"{result['server_alive']}, valid fill afterwards: {result['final_valid_fill_status']}; one keep-alive "
        f"connection ({result['idle_reconnects']} reconnects after the client sat idle for 5 s)",
        "",
        "| group | requests | statuses | lossless 200s compared | " + " | ".join(kinds) + " |",
        "|---|---:|---|---:|" + "---:|" * len(kinds),
    ]
    for group, counts in tally.statuses.items():
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(counts.items()))
        problems = " | ".join(str(tally.problems[group][k]) for k in kinds)
        lines.append(f"| {group} | {sum(counts.values())} | {statuses} | {tally.compared[group]} | {problems} |")
    total = {k: sum(p[k] for p in tally.problems.values()) for k in kinds}
    compared = sum(tally.compared.values())
    lines.append(
        f"| **all** | **{result['requests']}** | | **{compared}** | "
        + " | ".join(f"**{total[k]}**" for k in kinds)
        + " |"
    )
    lines += ["", "Format table (README, *Exactness*):", "", "| case | expected | status | answer | known pixels |",
              "|---|---|---:|---|---|"]  # fmt: skip
    for row in tally.formats:
        cells = (row["case"], row["expected"], row["status"], row.get("answer", "-"), row.get("kept", "-"))
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    if tally.examples:
        lines += ["", "Findings:", *[f"- {e}" for e in tally.examples]]
    return "\n".join(lines) + "\n"


def main() -> None:
    warnings.filterwarnings("ignore", "Corrupt EXIF data")  # Pillow on mutated TIFF headers, as expected
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1500, help="cut, mutated and bomb uploads (default: 1500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a few requests of each group; writes nothing")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks/results/web")
    args = parser.parse_args()
    rgb, mask = sample(ROOT / "examples/astronaut.png")
    count = 40 if args.smoke else args.count
    cases = fuzz_cases(rgb, mask, np.random.default_rng(args.seed), count=count)
    formats = format_cases()
    cases += formats[:6] if args.smoke else formats
    cases += hostile_cases(rgb, mask, large=not args.smoke) + protocol_cases(rgb, mask)
    final = Case("valid fill", encode(rgb, "PNG"), encode(mask, "PNG"))
    port, tally, timeout = free_port(), Tally(), 2.0
    for proc in _serve(port, "--body-timeout", str(timeout)):
        wait_for(port, proc)
        result = send_cases("127.0.0.1", port, cases, final, tally)
        stalled_bodies(port, 1 if args.smoke else 3, tally, timeout)
        result["requests"] += 1 if args.smoke else 3
        result["server_alive"] = proc.poll() is None
    smoke = " --smoke" if args.smoke else ""
    result["command"] = f"python3 benchmarks/web_fuzz.py --count {args.count} --seed {args.seed}{smoke}"
    result["problems"] = {group: dict(p) for group, p in tally.problems.items() if p}
    result["lossless_200s_compared"] = dict(tally.compared)
    result["findings"] = tally.examples
    report = table(result, tally)
    print(report)
    if not args.smoke:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "fuzz.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out_dir / "fuzz.md").write_text(report)


if __name__ == "__main__":
    main()
