"""Timing one measurement: warm-up, repeats within a time budget, and the peak resident memory (Linux).

The first call is a warm-up and is not counted unless it alone took longer than ``SLOW_WARMUP_S``; then calls
repeat until ``repeats`` or the time budget is reached (at least one). p50 and p95 are over the counted calls.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

SLOW_WARMUP_S: Final = 10.0  # a first call this slow is counted: warm-up effects are small next to it


@dataclass
class Timing:
    """Wall seconds of the counted calls and the peak RSS (bytes) during the measurement."""

    seconds: list[float]
    peak_rss: int | None

    @property
    def p50(self) -> float:
        return float(np.percentile(self.seconds, 50))

    @property
    def p95(self) -> float:
        return float(np.percentile(self.seconds, 95))

    @property
    def best(self) -> float:
        return min(self.seconds)


@dataclass
class Row:
    """One line of a result table."""

    section: str  # "conv", "latency", "batch" or "train"
    method: str
    what: str
    size: str = ""
    timing: Timing | None = None
    gflop: float | None = None  # per call
    images: int = 1  # per call
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def gflops(self) -> float | None:
        """GFLOP/s of the fastest call: on a shared machine the least disturbed one is closest to the truth."""
        return self.gflop / self.timing.best if self.gflop and self.timing else None


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident-set high-water mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int | None:
    """The resident-set high-water mark in bytes (Linux), else None."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def measure(fn: Callable[[], object], *, repeats: int, budget: float, sync: Callable[[], None]) -> Timing:
    """Time ``fn`` (see the module docstring for warm-up and stopping rules)."""
    reset = _reset_peak_rss()

    def timed() -> float:
        start = time.perf_counter()
        fn()
        sync()
        return time.perf_counter() - start

    first = timed()
    seconds = [first] if first > SLOW_WARMUP_S else []
    spent = first
    while len(seconds) < repeats and (not seconds or spent < budget):
        seconds.append(timed())
        spent += seconds[-1]
    return Timing(seconds, _peak_rss() if reset else None)


def no_sync() -> None:
    """CPU work (and every fill that returns a numpy array) is finished when the call returns."""


def sync_for(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else no_sync
