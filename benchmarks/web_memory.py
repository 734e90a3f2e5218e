"""Peak memory of a real ``gmcnn serve`` under N concurrent uploads of 10000x10000 (100 MP) images.

Starts the server as a subprocess, sends N fills at once (each client retries on 503 after ``Retry-After``,
as the page does), and reads the server's peak resident memory (``VmHWM`` in ``/proc/PID/status``).

    python3 benchmarks/web_memory.py [--clients 4] [--side 10000]

writes ``benchmarks/results/web/memory.json``. The documented limit (README, "Memory") is
``base + budget``: the idle server's RSS plus ``--memory-budget-mb`` (default 3 GiB).
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_fuzz import BOUNDARY, free_port, wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def large_upload(side: int) -> tuple[bytes, bytes]:
    """A side x side RGB PNG (a gradient with noise, so it is not trivial) and its mask with two holes."""
    rng = np.random.default_rng(0)
    row = np.linspace(0, 255, side, dtype=np.float32)
    image = np.empty((side, side, 3), np.uint8)
    for c in range(3):
        image[..., c] = (row[None, :] * (0.5 + 0.2 * c)).astype(np.uint8)
    image[::97, ::89] = rng.integers(0, 256, image[::97, ::89].shape, dtype=np.uint8)
    mask = np.zeros((side, side), np.uint8)
    mask[side // 3 : side // 3 + 120, side // 4 : side // 4 + 200] = 255
    mask[2 * side // 3 : 2 * side // 3 + 80, side // 2 : side // 2 + 80] = 255
    out = []
    for arr in (image, mask):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG", compress_level=1)
        out.append(buf.getvalue())
    return out[0], out[1]


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def fill_with_retries(port: int, body: bytes, results: list[dict[str, Any]]) -> None:
    start, tries = time.perf_counter(), 0
    while True:
        tries += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request(
            "POST", "/api/v1/inpaint", body=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        )
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status != 503:
            results.append({"status": r.status, "tries": tries, "seconds": round(time.perf_counter() - start, 1)})
            return
        time.sleep(min(30, int(r.getheader("Retry-After") or 2)))


def measure(clients: int, side: int, budget_mb: float | None = None) -> dict[str, Any]:
    image, mask = large_upload(side)
    parts = []
    for field, data in (("image", image), ("mask", mask)):
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{field}.png"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    port = free_port()
    cmd = [sys.executable, "-m", "gmcnn", "serve", "--port", str(port), "--device", "cpu"]
    if budget_mb is not None:
        cmd += ["--memory-budget-mb", str(budget_mb)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/v1/health")
        budget = json.loads(conn.getresponse().read())["limits"]["memory_budget_bytes"]
        idle = rss_kib(proc.pid, "VmRSS")
        results: list[dict[str, Any]] = []
        threads = [threading.Thread(target=fill_with_retries, args=(port, body, results)) for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        peak = rss_kib(proc.pid, "VmHWM")
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
    limit = idle * 1024 + budget
    return {
        "clients": clients,
        "image": f"{side}x{side} RGB PNG, {len(image) / 1e6:.1f} MB (mask {len(mask) / 1e6:.2f} MB)",
        "idle_rss_mib": round(idle / 1024),
        "peak_rss_mib": round(peak / 1024),
        "budget_mib": round(budget / 2**20),
        "documented_limit_mib": round(limit / 2**20),
        "under_limit": peak * 1024 < limit,
        "statuses": sorted(r["status"] for r in results),
        "tries": sorted(r["tries"] for r in results),
        "seconds": round(time.perf_counter() - start, 1),
        "server_alive": alive,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--side", type=int, default=10000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/web/memory.json")
    args = parser.parse_args()
    result = measure(args.clients, args.side)
    result["command"] = f"python3 benchmarks/web_memory.py --clients {args.clients} --side {args.side}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
