"""A local stand-in for the authors' Google Drive links: fake releases served over real HTTP (no network).

``ReleaseServer`` serves files by Drive id the way Drive does: ``/uc?export=download&id=ID`` answers the
"can't scan for viruses" page whose form leads to ``/download?id=ID&export=download&confirm=t&uuid=..``, which
sends the file (``Range`` requests honoured, ``Content-Disposition`` set). ``cut`` makes it drop the connection
after that many bytes of a response (while announcing the whole length). Every request's path and ``Range`` is
recorded. The fake releases are built from real TF-written files (``tests/fixtures/tf_cnum4``) and a tiny
official-layout PyTorch generator; tests register them in the weights registry with ``monkeypatch``.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import torch

from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.weights import registry
from gmcnn.weights.registry import Download, WeightsEntry

TF_FIXTURE = Path(__file__).parents[1] / "fixtures" / "tf_cnum4"
TF_NAME, TF_FOLDER, TF_ID = "official-tiny-tf", "tiny_48x64_rect", "tiny-tf-id"
PTH_NAME, PTH_FOLDER, PTH_ID = "official-tiny-pth", "tiny256_rect", "tiny-pth-id"
CONFIRM_PAGE = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="{base}download" method="get">
<input type="submit" id="uc-download-link" value="Download anyway"/>
<input type="hidden" name="id" value="{id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="0d1e-&amp;-2f">
</form></body></html>"""


def tf_release_zip(folder: str = TF_FOLDER, *, damage: bool = False) -> bytes:
    """A zip of the TF-written cnum-4 checkpoint in ``folder/``, as the releases are packed; ``damage`` flips a
    byte of the data file *before* zipping (the zip's own CRCs are then right, the checkpoint's are not)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(TF_FIXTURE.iterdir()):
            if path.suffix == ".npy" or path.suffix == ".json":
                continue
            data = bytearray(path.read_bytes())
            if damage and ".data-" in path.name:
                data[len(data) // 2] ^= 0x40
            zf.writestr(f"{folder}/{path.name}", bytes(data))
    return buf.getvalue()


def pth_bytes(cnum: int = 4) -> bytes:
    """An official-layout PyTorch generator state dict, as ``torch.save`` writes it."""
    torch.manual_seed(0)
    buf = io.BytesIO()
    torch.save(GMCNN(GMCNNConfig(cnum=cnum)).state_dict(), buf)
    return buf.getvalue()


def register_fakes(monkeypatch: pytest.MonkeyPatch) -> tuple[WeightsEntry, WeightsEntry]:
    """Two fake releases (TF cnum 4, PyTorch cnum 4) in the registry for one test."""
    tf = WeightsEntry(TF_NAME, "tiny TF release", architecture="gmcnn_tf", cnum=4, folder=TF_FOLDER,
                      download=Download(TF_ID))  # fmt: skip
    pth = WeightsEntry(PTH_NAME, "tiny PyTorch release", cnum=4, folder=PTH_FOLDER, download=Download(PTH_ID))
    monkeypatch.setitem(registry._REGISTRY, TF_NAME, tf)
    monkeypatch.setitem(registry._REGISTRY, PTH_NAME, pth)
    return tf, pth


class ReleaseServer:
    """``with ReleaseServer({id: (filename, bytes)}) as s:`` then ``s.template`` is a ``GMCNN_DOWNLOAD_URL``."""

    def __init__(self, files: dict[str, tuple[str, bytes]], *, cut: int | None = None, drive: bool = True) -> None:
        self.files = dict(files)
        self.cut = cut
        self.drive = drive
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
                server.requests.append((self.path, self.headers.get("Range")))
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                file_id = query.get("id", "")
                if file_id not in server.files:
                    self.send_error(404, "no such file")
                elif url.path == "/uc" and server.drive:
                    page = CONFIRM_PAGE.format(base=server.base, id=file_id).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(page)))
                    self.end_headers()
                    self.wfile.write(page)
                elif url.path in ("/download", "/uc") and (query.get("confirm") == "t" or not server.drive):
                    self._send_file(*server.files[file_id])
                else:
                    self.send_error(400, "unconfirmed")

            def _send_file(self, name: str, data: bytes) -> None:
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Disposition", f'attachment; filename="{name}"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut is not None and len(body) > server.cut:
                    self.wfile.write(body[: server.cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.template = f"{self.base}uc?export=download&id={{id}}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ReleaseServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def copy_release(folder: Path, name: str = TF_FOLDER) -> Path:
    """The TF-written cnum-4 checkpoint placed in ``folder/name`` as a release folder."""
    target = folder / name
    shutil.copytree(TF_FIXTURE, target, ignore=shutil.ignore_patterns("*.npy", "*.json"))
    return target
