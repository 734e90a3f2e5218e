"""Sharded, resumable batch inpainting of a folder, one shard per process: plain or under ``torchrun``.

    torchrun --nnodes 2 --nproc-per-node 4 ... -m gmcnn inpaint IN_DIR --mask MASKS -o OUT_DIR

* **Sharding.** Every process takes every ``world_size``-th file of the sorted list, starting at its ``rank``
  (``RANK`` / ``WORLD_SIZE`` as torchrun sets them; a plain process is rank 0 of 1). Strided rather than
  contiguous, so ranks get similar mixes when file sizes drift along the sorted names.
* **Resume.** Outputs are written atomically (temp file + rename in the output folder), so an output under its
  final name is complete; a rerun skips those and redoes only the rest. Temp files a killed process left for
  its own shard's files are removed first (each rank owns its files, so no rank touches another's).
* **Manifests.** ``OUT_DIR/manifests/rank-<rank>.jsonl``: one JSON line per file, appended and flushed as it
  finishes: ``file``, ``output``, ``status`` (``filled``, ``exists`` = skipped, ``failed``), ``seconds``,
  ``error``, ``rank``, ``world_size``, ``time`` (Unix seconds when recorded). A killed process leaves at most
  one partial last line; :func:`read_manifests` ignores it. A bad input file is recorded as ``failed`` and the
  run goes on.
* **Progress.** Rank 0's bar counts the whole job: every rank publishes its own count to the key-value store
  torchrun already runs for the job (a plain set, no collective), so a dead peer cannot block anyone.
* **Batching.** ``batch_size`` files are loaded at a time; those the network sees whole at the same size go
  through it together (:meth:`gmcnn.inpainting.pipeline.Inpainter.fill_batch`, byte-identical to one at a time).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from gmcnn.errors import UserError

T = TypeVar("T")
MANIFEST_DIR = "manifests"
# What one bad file may raise on its way through load -> fill -> save; anything else is a bug and stops the run.
FILE_ERRORS = (UserError, ValueError, FileNotFoundError, OSError)


@dataclass(frozen=True)
class Shard:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_env(cls) -> Shard:
        """From torchrun's ``RANK`` / ``WORLD_SIZE``; rank 0 of 1 when they are not set."""
        shard = cls(int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")))
        if not 0 <= shard.rank < shard.world_size:
            raise UserError(f"RANK={shard.rank} is outside WORLD_SIZE={shard.world_size}")
        return shard

    def select(self, items: Sequence[T]) -> list[T]:
        """This rank's share of ``items`` (every ``world_size``-th, from ``rank``)."""
        return list(items[self.rank :: self.world_size])


class Job(NamedTuple):
    image: Path
    mask: Path  # a mask file, or a folder searched by the image's stem
    output: Path


def is_complete(output: Path) -> bool:
    """An output exists under its final name, so it was written completely (outputs are renamed into place)."""
    return output.is_file()


def remove_stale_temps(jobs: Iterable[Job]) -> int:
    """Delete the temp files a killed process left for these outputs (``.<name>.*.tmp`` beside each one)."""
    removed = 0
    by_folder: dict[Path, set[str]] = {}
    for job in jobs:
        by_folder.setdefault(job.output.parent, set()).add(job.output.name)
    for folder, names in by_folder.items():
        if not folder.is_dir():
            continue
        for tmp in folder.glob(".*.tmp"):
            if tmp.name[1:].rsplit(".", 2)[0] in names:
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed


class Manifest:
    """One rank's append-only JSONL record of what happened to each of its files."""

    def __init__(self, folder: Path, shard: Shard) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"rank-{shard.rank:05d}.jsonl"
        self.shard = shard
        self._fh = self.path.open("a", encoding="utf-8")
        if self._fh.tell() and not self.path.read_bytes().endswith(b"\n"):
            self._fh.write("\n")  # a killed writer's partial line stays alone on its line (and is skipped)

    def record(self, job: Job, *, status: str, seconds: float, error: str | None = None) -> None:
        row = {"file": job.image.name, "output": str(job.output), "status": status, "seconds": round(seconds, 4),
               "error": error, "rank": self.shard.rank, "world_size": self.shard.world_size,
               "time": round(time.time(), 3)}  # fmt: skip
        self._fh.write(json.dumps(row) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def read_manifests(folder: Path) -> list[dict[str, Any]]:
    """Every complete line of every rank's manifest in ``folder``, in file order."""
    rows = []
    for path in sorted(folder.glob("rank-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the partial last line of a killed process
    return rows


class GlobalProgress:
    """Rank 0's bar over the whole job; every rank publishes its count to torchrun's store."""

    KEY = "gmcnn-inpaint/done/"

    PATIENCE_S = 30.0  # rank 0 keeps its bar open this long after the last progress of any peer

    def __init__(self, total: int, shard: Shard, *, enabled: bool) -> None:
        self.shard, self.total, self.done, self.failed, self._shown = shard, total, 0, 0, 0.0
        self.store = _job_store(shard) if shard.world_size > 1 else None
        self.bar = None
        if enabled and shard.rank == 0:
            from tqdm import tqdm

            whole = self.store is not None or shard.world_size == 1
            where = "" if whole else " (this rank only: no job store)"
            self.bar = tqdm(total=total if whole else None, unit="img", desc="inpaint" + where)

    def update(self, *, failed: bool) -> None:
        self.done += 1
        self.failed += failed
        if self.store is not None:
            try:
                self.store.set(f"{self.KEY}{self.shard.rank}", f"{self.done} {self.failed}")
            except RuntimeError:  # the store's host is gone (its node died): count locally from here on
                self.store = None
        if self.bar is not None and (time.monotonic() - self._shown > 0.5 or self.store is None):
            self._refresh()

    def totals(self) -> tuple[int, int]:
        """(files handled, files failed) over every rank that has reported so far."""
        if self.store is None:
            return self.done, self.failed
        keys = [f"{self.KEY}{r}" for r in range(self.shard.world_size)]
        try:
            counts = [self.store.get(k).decode().split() for k in keys if self.store.check([k])]
        except RuntimeError:
            self.store = None
            return self.done, self.failed
        return sum(int(d) for d, _ in counts), sum(int(f) for _, f in counts)

    def _refresh(self) -> None:
        assert self.bar is not None
        done, failed = self.totals()
        self.bar.n = done
        self.bar.set_postfix(failed=failed, refresh=False)
        self.bar.refresh()
        self._shown = time.monotonic()

    def write(self, message: str) -> None:
        (self.bar.write(message, file=sys.stderr) if self.bar is not None else print(message, file=sys.stderr))

    def close(self) -> None:
        """Rank 0 first waits for the other ranks to finish (or to stop making progress: a dead peer)."""
        if self.bar is None:
            return
        last, changed = self.totals(), time.monotonic()
        while self.store is not None and last[0] < self.total and time.monotonic() - changed < self.PATIENCE_S:
            time.sleep(0.5)
            if (now := self.totals()) != last:
                last, changed = now, time.monotonic()
                self._refresh()
        self._refresh()
        self.bar.close()


def _job_store(shard: Shard) -> Any:
    """A connection to the TCP store of the torchrun job, or None when there is none to reach.

    torchrun's agent runs it by default (``TORCHELASTIC_USE_AGENT_STORE=True``); otherwise (e.g. with
    ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1``) rank 0 serves it at ``MASTER_ADDR:MASTER_PORT``, as
    ``init_process_group`` would.
    """
    addr, port = os.environ.get("MASTER_ADDR"), os.environ.get("MASTER_PORT")
    if not addr or not port:
        return None
    import torch.distributed as dist

    serve = shard.rank == 0 and os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True"
    try:
        return dist.TCPStore(addr, int(port), is_master=serve, timeout=timedelta(seconds=30))
    except (RuntimeError, ValueError):  # torch raises DistNetworkError (a RuntimeError) when unreachable
        return None


Outcome = tuple[Job, str | None, float]  # the job, its error message (None = filled), seconds spent on it
Filler = Callable[[list[Job]], list[Outcome]]


def run_shard(jobs: Sequence[Job], fill: Filler, *, shard: Shard, manifest_dir: Path, batch_size: int = 1,
              overwrite: bool = False, progress: bool = True) -> tuple[int, int]:  # fmt: skip
    """Fill this rank's share of ``jobs``; returns (files this rank handled, files that failed).

    ``fill(chunk)`` loads, fills and saves up to ``batch_size`` jobs and returns ``(job, error or None,
    seconds)`` for each; its errors for one file must not stop the others (see :mod:`gmcnn.cli.inpaint`).
    """
    mine = shard.select(jobs)
    remove_stale_temps(mine)
    manifest = Manifest(manifest_dir, shard)
    bar = GlobalProgress(len(jobs), shard, enabled=progress)
    try:
        todo = []
        for job in mine:
            if not overwrite and is_complete(job.output):
                manifest.record(job, status="exists", seconds=0.0)
                bar.update(failed=False)
            else:
                todo.append(job)
        for start in range(0, len(todo), batch_size):
            for job, error, seconds in fill(todo[start : start + batch_size]):
                manifest.record(job, status="failed" if error else "filled", seconds=seconds, error=error)
                bar.update(failed=error is not None)
                if error:
                    bar.write(f"gmcnn inpaint: skipped {job.image}: {error}")
    finally:
        bar.close()
        manifest.close()
    return bar.done, bar.failed


__all__ = ["FILE_ERRORS", "GlobalProgress", "Job", "Manifest", "Outcome", "Shard", "is_complete", "read_manifests",
           "remove_stale_temps", "run_shard"]  # fmt: skip
