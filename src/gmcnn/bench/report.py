"""The benchmark's results as markdown tables, JSON and a plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from gmcnn.bench.measure import Row
from gmcnn.evaluation.evaluate import machine_description
from gmcnn.files import atomic_write


def _mib(value: int | None) -> str:
    return "" if value is None else f"{value / 2**20:.0f}"


def _table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])


def _cells(row: Row, conv_gflops: float) -> list[str]:
    t = row.timing
    rate = row.gflops()
    return [
        f"{t.p50:.3f}" if t else "",
        f"{t.p95:.3f}" if t else "",
        str(len(t.seconds)) if t else "0",
        f"{row.gflop:.1f}" if row.gflop else "",
        f"{rate:.1f}" if rate else "",
        f"{rate / conv_gflops:.0%}" if rate else "",
        _mib(t.peak_rss) if t else "",
    ]


def report_markdown(rows: Sequence[Row], *, header: str) -> str:
    """All tables as markdown."""
    conv = next(r for r in rows if r.section == "conv")
    peak = conv.gflops() or 0.0
    stats = ["p50 s", "p95 s", "runs", "GFLOP", "GFLOP/s (best)", "of conv limit", "peak RSS MiB"]
    parts = [header, "", "## Dense-conv limit", ""]
    parts.append(_table(["kernel", "shape", *stats], [[conv.method, conv.what, *_cells(conv, peak)]]))
    latency = [r for r in rows if r.section == "latency"]
    if latency:
        body = [[r.size, r.method, r.what, *_cells(r, peak), r.note] for r in latency]
        parts += ["", "## Latency of one fill", "", _table(["size", "method", "what runs", *stats, "note"], body)]
    batch = [r for r in rows if r.section == "batch"]
    if batch:
        body = [[r.size, r.method, r.what, *_cells(r, peak), _per_second(r)] for r in batch]
        parts += ["", "## Batch throughput", "", _table(["size", "model", "what runs", *stats, "images/s"], body)]
    train = [r for r in rows if r.section == "train"]
    if train:
        body = [[r.size, r.method, r.what, *_cells(r, peak)[:3], _mib(r.timing.peak_rss if r.timing else None),
                 _per_second(r), r.note] for r in train]  # fmt: skip
        head = ["size", "model", "step", "p50 s", "p95 s", "runs", "peak RSS MiB", "images/s", "note"]
        parts += ["", "## Training steps", "", _table(head, body)]
    return "\n".join(parts) + "\n"


def _per_second(row: Row) -> str:
    return f"{row.images / row.timing.p50:.2f}" if row.timing else ""


def plot(rows: Sequence[Row], path: Path) -> None:
    """Latency (p50) against megapixels per method, and model GFLOP/s against the conv limit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    latency = [r for r in rows if r.section == "latency" and r.timing]
    kind = {"Inpainter": "Inpainter", "eager": "eager fp32", "baseline": "baseline"}  # strategies vary by size

    def line(r: Row) -> tuple[str, str]:
        return r.method, kind.get(r.what.split()[0], r.what)

    for key in dict.fromkeys(line(r) for r in latency):
        pts = [r for r in latency if line(r) == key]
        p50 = [r.timing.p50 for r in pts if r.timing]
        ax1.plot([_megapixels(r.size) for r in pts], p50, "o-", label=f"{key[0]}: {key[1]}")
    ax1.set(xscale="log", yscale="log", xlabel="megapixels", ylabel="p50 latency (s)", title="one fill")
    ax1.legend(fontsize=7)
    ax1.grid(True, which="both", alpha=0.3)
    conv = next(r for r in rows if r.section == "conv")
    rated = [r for r in rows if r.gflops() and r.section != "conv"]
    labels = [f"{r.method}\n{r.size} {r.section}" for r in rated]
    ax2.barh(labels, [r.gflops() for r in rated])
    ax2.axvline(conv.gflops() or 0.0, color="red", linestyle="--", label="dense 3x3 conv limit")
    ax2.set(xlabel="GFLOP/s", title="achieved throughput (eager fp32)")
    ax2.tick_params(axis="y", labelsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _megapixels(label: str) -> float:
    dims = label.split("(")[-1].rstrip(")") if "(" in label else label
    w, h = (int(v) for v in dims.split("x"))
    return w * h / 1e6


def bench_header(device: torch.device, *, repeats: int, budget: float, seed: int) -> str:
    """The report's title and the conditions it was measured under."""
    return (
        f"# gmcnn bench\n\nMachine: {machine_description()}; device {device}. Repeats {repeats}, budget {budget:g} s "
        f"per measurement, seed {seed}."
    )


def save_results(rows: Sequence[Row], text: str, out: Path, *, picture: Path | None = None) -> None:
    """``speed.md`` (the report ``text``) and ``speed.json`` (every row) in ``out``; the plot at ``picture``
    (default ``out/speed.png``: a committed results folder keeps text only and puts it elsewhere)."""
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "speed.md", lambda tmp: tmp.write_text(text))
    data = json.dumps([asdict(r) for r in rows], indent=1, default=str) + "\n"
    atomic_write(out / "speed.json", lambda tmp: tmp.write_text(data))
    picture = picture or out / "speed.png"
    picture.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, picture)
