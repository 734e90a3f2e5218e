"""Peak and idle memory of a real ``gmcnn serve``: every strategy, large options, concurrency and a burst.

Starts the server as a subprocess and, for each scenario, resets its peak (``/proc/PID/clear_refs``), sends the
requests (clients retry on 503 after ``Retry-After``, as the page does) and reads the peak resident memory
(``VmHWM``). Every scenario's peak must stay under the documented ceiling (README, "Memory"): the idle server's
RSS plus ``--memory-budget-mb`` (default 3 GiB). A request the budget cannot hold must be refused (413), not
run. Last, a burst of 200 fills of mixed sizes and strategies: the idle RSS after it must be within 20 % of
the idle RSS before it (after the scenarios, which load what a process loads once: kernels, libraries).

    python3 benchmarks/web_memory.py [--side 10000] [--burst 200] [--smoke]

writes ``benchmarks/results/web/memory.json`` and ``memory.md``.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from web_fuzz import BOUNDARY, free_port, start_server, wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Scenario:
    """``clients`` concurrent fills of a ``side`` x ``side`` upload with ``fields``; ``expect`` their status."""

    name: str
    side: int
    fields: dict[str, str]
    expect: int
    clients: int = 1


def large_upload(side: int, holes: int = 2) -> tuple[bytes, bytes]:
    """A side x side RGB PNG (a gradient with noise, so it is not trivial) and its mask with ``holes`` holes."""
    rng = np.random.default_rng(side)
    row = np.linspace(0, 255, side, dtype=np.float32)
    image = np.empty((side, side, 3), np.uint8)
    for c in range(3):
        image[..., c] = (row[None, :] * (0.5 + 0.2 * c)).astype(np.uint8)
    image[::97, ::89] = rng.integers(0, 256, image[::97, ::89].shape, dtype=np.uint8)
    mask = np.zeros((side, side), np.uint8)
    for i in range(holes):
        top, left = (side * (i + 1)) // (holes + 2), (side * (2 * i + 1)) // (2 * holes + 2)
        mask[top : top + max(8, side // 80), left : left + max(8, side // 50)] = 255
    out = []
    for arr in (image, mask):
        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, "PNG", compress_level=1)
        out.append(buf.getvalue())
    return out[0], out[1]


def form(image: bytes, mask: bytes, fields: dict[str, str]) -> bytes:
    parts = []
    for name, data in (("image", image), ("mask", mask)):
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}.png"\r\n'
        parts.append(head.encode() + b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    for name, value in fields.items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/{pid}/status")


def fill_with_retries(port: int, body: bytes, results: list[dict[str, Any]]) -> None:
    start, tries = time.perf_counter(), 0
    while True:
        tries += 1
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1800)
        conn.request(
            "POST", "/api/v1/inpaint", body=body, headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        )
        r = conn.getresponse()
        answer = r.read()
        conn.close()
        if r.status != 503:
            detail = json.loads(answer).get("detail") if r.status != 200 else None
            results.append({"status": r.status, "tries": tries, "seconds": round(time.perf_counter() - start, 1),
                            "detail": detail})  # fmt: skip
            return
        time.sleep(min(30, int(r.getheader("Retry-After") or 2)))


def run_scenario(pid: int, port: int, scenario: Scenario) -> dict[str, Any]:
    image, mask = large_upload(scenario.side)
    body = form(image, mask, scenario.fields)
    del image, mask
    before = rss_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS: this scenario's own peak
    results: list[dict[str, Any]] = []
    threads = [threading.Thread(target=fill_with_retries, args=(port, body, results)) for _ in range(scenario.clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    estimate = next((r["detail"].get("cost_bytes") for r in results if isinstance(r.get("detail"), dict)), None)
    return {
        "scenario": scenario.name,
        "upload": f"{scenario.side}x{scenario.side} RGB PNG, {len(body) / 1e6:.1f} MB",
        "fields": scenario.fields,
        "clients": scenario.clients,
        "rss_before_mib": round(before / 1024),
        "peak_rss_mib": round(rss_kib(pid, "VmHWM") / 1024),
        "statuses": sorted(r["status"] for r in results),
        "expected": scenario.expect,
        "refused_estimate_gib": round(estimate / 2**30, 2) if estimate else None,
        "tries": sorted(r["tries"] for r in results),
        "seconds": round(time.perf_counter() - start, 1),
    }


def burst(pid: int, port: int, count: int, clients: int = 4) -> dict[str, Any]:
    """``count`` fills of mixed sizes (0.25-4 MP, every 20th 16 MP) and options, ``clients`` at a time."""
    uploads = {side: large_upload(side) for side in (500, 1000, 2000, 4000)}
    options = [{}, {"strategy": "crop"}, {"strategy": "resize", "process_size": "1024"}, {"grow": "8", "feather": "8"}]
    sides = [4000 if i % 20 == 0 else (500, 1000, 2000)[i % 3] for i in range(count)]
    bodies = [form(*uploads[side], options[(i // 3) % 4]) for i, side in enumerate(sides)]
    results: list[dict[str, Any]] = []
    queue = list(range(count))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            fill_with_retries(port, bodies[i], results)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return {"requests": count, "statuses": statuses, "seconds": round(time.perf_counter() - start, 1)}


def settled_rss(pid: int, seconds: float = 5.0) -> int:
    """RSS in KiB once the server has been idle for ``seconds`` (late frees and trims have happened)."""
    time.sleep(seconds)
    return rss_kib(pid, "VmRSS")


def scenarios(side: int, smoke: bool) -> list[Scenario]:
    # The network's cost is what makes "original" and "resize" large: those scenarios ask for its own fill
    # (detail 0). At full detail without a feather band the network does not run and is not counted.
    net = {"detail": "0"}
    if smoke:
        refused = Scenario("resize 3000², process_size 8192, detail 0", 3000,
                           {"strategy": "resize", "process_size": "8192", **net}, 413)  # fmt: skip
        return [Scenario("crop 1000²", 1000, {"strategy": "crop"}, 200), refused]
    half = side // 2
    return [
        Scenario(f"crop {side}², 4 clients", side, {}, 200, clients=4),
        Scenario(f"original {side}², detail 0", side, {"strategy": "original", **net}, 413),
        Scenario(
            f"resize {side}², process_size 8192, detail 0",
            side,
            {"strategy": "resize", "process_size": "8192", **net},
            413,
        ),  # fmt: skip
        Scenario(
            f"resize {side}², process_size 512, detail 0",
            side,
            {"strategy": "resize", "process_size": "512", **net},
            413,
        ),  # fmt: skip
        Scenario(
            "resize 4000², process_size 1024, detail 0",
            4000,
            {"strategy": "resize", "process_size": "1024", **net},
            200,
        ),  # fmt: skip
        Scenario("original 2000², detail 0", 2000, {"strategy": "original", **net}, 200),
        # full detail (the embedded model's own): no network, the completion stage on the whole 16 MP window
        Scenario("resize 4000², process_size 1024", 4000, {"strategy": "resize", "process_size": "1024"}, 200),
        Scenario("original 4000²", 4000, {"strategy": "original"}, 200),
        Scenario(f"crop {half}², grow 64, feather 64", half, {"grow": "64", "feather": "64"}, 200),
        Scenario(f"crop {half}², detail 0.5", half, {"detail": "0.5"}, 200),
        Scenario(f"crop {half}², detail 1", half, {"detail": "1"}, 200),
    ]


def measure(side: int, burst_count: int, *, smoke: bool = False, budget_mb: float | None = None) -> dict[str, Any]:
    port = free_port()
    proc = start_server(port, *(["--memory-budget-mb", str(budget_mb)] if budget_mb is not None else []))
    try:
        wait_for(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/v1/health")
        budget = json.loads(conn.getresponse().read())["limits"]["memory_budget_bytes"]
        idle_start = rss_kib(proc.pid, "VmRSS")
        fill_with_retries(port, form(*large_upload(500), {}), [])  # warm-up: kernels, thread pools
        idle_warm = settled_rss(proc.pid)
        rows = [run_scenario(proc.pid, port, s) for s in scenarios(side, smoke)]
        # The scenarios load what runs once per process (the completion stage's compiled kernels, PatchMatch):
        # the burst is measured from here.
        idle_before = settled_rss(proc.pid)
        burst_result = burst(proc.pid, port, 12 if smoke else burst_count)
        idle_after = settled_rss(proc.pid)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(30)
    ceiling = idle_start * 1024 + budget
    for row in rows:
        row["under_ceiling"] = row["peak_rss_mib"] * 2**20 < ceiling
        row["as_expected"] = set(row["statuses"]) == {row["expected"]}
    return {
        "budget_mib": round(budget / 2**20),
        "idle_start_mib": round(idle_start / 1024),
        "ceiling_mib": round(ceiling / 2**20),
        "idle_after_warm_up_mib": round(idle_warm / 1024),
        "scenarios": rows,
        "idle_before_burst_mib": round(idle_before / 1024),
        "burst": burst_result,
        "idle_after_burst_mib": round(idle_after / 1024),
        "idle_growth": round(idle_after / idle_before - 1, 3),
        "server_alive": alive,
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"`{result['command']}`: budget {result['budget_mib']} MiB, idle at start {result['idle_start_mib']} MiB, "
        f"documented ceiling (idle + budget) {result['ceiling_mib']} MiB; server alive: {result['server_alive']}",
        "",
        "| scenario | clients | statuses (expected) | peak RSS MiB | under ceiling | refused estimate GiB | seconds |",
        "|---|---:|---|---:|---|---:|---:|",
    ]
    for r in result["scenarios"]:
        lines.append(
            f"| {r['scenario']} | {r['clients']} | {r['statuses']} ({r['expected']}) | {r['peak_rss_mib']:,} | "
            f"{'yes' if r['under_ceiling'] else '**no**'} | {r['refused_estimate_gib'] or '-'} | {r['seconds']} |"
        )
    b = result["burst"]
    lines += [
        "",
        f"Idle RSS: {result['idle_start_mib']} MiB at start, {result['idle_after_warm_up_mib']} MiB after one "
        f"warm-up fill, {result['idle_before_burst_mib']} MiB after the scenarios above (what loads once, such "
        "as the PatchMatch library, and the allocator's caches).",
        f"Burst of {b['requests']} fills (0.25-4 MP, every 20th 16 MP; 4 clients, statuses {b['statuses']}, "
        f"{b['seconds']} s): idle RSS {result['idle_before_burst_mib']} MiB before, "
        f"{result['idle_after_burst_mib']} MiB after: {result['idle_growth']:+.1%}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=10000, help="side of the largest uploads (default: 10000)")
    parser.add_argument("--burst", type=int, default=200, help="fills in the idle-memory burst (default: 200)")
    parser.add_argument("--smoke", action="store_true", help="two small scenarios and a short burst; writes nothing")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks/results/web")
    args = parser.parse_args()
    result = measure(args.side, args.burst, smoke=args.smoke)
    smoke = " --smoke" if args.smoke else ""
    result["command"] = f"python3 benchmarks/web_memory.py --side {args.side} --burst {args.burst}{smoke}"
    report = table(result)
    print(report)
    if not args.smoke:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out_dir / "memory.md").write_text(report)


if __name__ == "__main__":
    main()
