"""Rank 0's scalars: running means over a logging window, and the ``metrics.jsonl`` (+ TensorBoard) they go to."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from gmcnn.files import atomic_write


def _step(line: str) -> float:
    """A metrics line's step; +inf for a line to drop (blank, or the torn end of an append a kill cut short)."""
    try:
        return float(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError):
        return float("inf")


class MetricsLog:
    """Rank-0 scalars: append to ``metrics.jsonl`` and, when installed, TensorBoard."""

    def __init__(self, run_dir: Path, *, resume_step: int | None) -> None:
        self.path = run_dir / "metrics.jsonl"
        if resume_step is not None and self.path.exists():
            # Drop lines a killed run wrote after its last checkpoint: the resumed run writes them again.
            kept = [ln for ln in self.path.read_text().splitlines() if _step(ln) <= resume_step]
            text = "".join(ln + "\n" for ln in kept)
            atomic_write(self.path, lambda tmp: tmp.write_text(text))  # a kill here must not lose the history
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb: Any = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:
            self.tb = None

    def write(self, step: int, values: dict[str, Any]) -> None:
        """Append one line: the step, the values and the wall-clock ``time`` (Unix seconds)."""
        with self.path.open("a") as fh:
            fh.write(json.dumps({"step": step, **values, "time": round(time.time(), 3)}) + "\n")
        if self.tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float):
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class Scalars:
    """Running means of the step logs over a logging window, with the window's images/s."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.steps = 0
        self.start = time.perf_counter()

    def add(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.sums[key] += value
        self.steps += 1

    def flush(self, *, images_per_step: int, **extra: Any) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.start
        scalars: dict[str, Any] = {k: v / self.steps for k, v in self.sums.items()}
        scalars.update(extra, images_per_s=self.steps * images_per_step / elapsed)
        self.sums.clear()
        self.steps = 0
        return scalars

    def restart_if_flushed(self) -> None:
        if self.steps == 0:
            self.start = time.perf_counter()  # images/s measures training steps, not the I/O between windows


__all__ = ["MetricsLog", "Scalars"]
