"""What bounds the server's work: one model thread, a queue, a memory budget, and the jobs' progress.

* :class:`ModelQueue`: one worker thread runs the model; at most ``size`` admitted requests wait while one
  runs; beyond that 503 with ``Retry-After``.
* :class:`MemoryBudget`: a server-wide budget of working memory for decoded images. A request reserves
  its cost (from the image headers, before anything is decoded) and gives it back when it has answered:
  one too large for the whole budget gets 413, one that does not fit *now* gets 503.
* :class:`Jobs`: the progress (windows done out of total) of fills that gave a job id, and their
  cancellation; the pipeline's per-window callback feeds it.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gmcnn.web.errors import ApiError

JOB_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def busy(message: str, wait: float, detail: dict[str, Any]) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        503,
        f"{message}; retry in about {seconds} s",
        {**detail, "retry_after_s": seconds},
        {"Retry-After": str(seconds)},
    )


class ModelQueue:
    """One worker thread runs the model; at most ``size`` admitted requests wait while one runs.

    A request takes a slot with :meth:`admit` *before* it decodes anything and gives it back when its model
    call has finished — or when it fails before reaching the model.
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"queue_size must be >= 0, got {size}")
        self.capacity = size + 1  # the one running + the waiting ones
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gmcnn-model")
        self._lock = threading.Lock()
        self._admitted = 0
        self.mean_seconds = 1.0  # moving average of model calls, for Retry-After

    @property
    def admitted(self) -> int:
        return self._admitted

    def admit(self) -> Slot:
        with self._lock:
            if self._admitted >= self.capacity:
                raise busy(
                    f"the server is busy ({self._admitted} requests in progress)",
                    self.mean_seconds * self._admitted,
                    {"queue_capacity": self.capacity},
                )
            self._admitted += 1
        return Slot(self._release)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1

    async def run(self, slot: Slot, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model thread; the slot is freed when it ends (even if this request is cancelled)."""

        def timed() -> Any:
            start = time.perf_counter()
            try:
                return fn()
            finally:
                self.mean_seconds = 0.7 * self.mean_seconds + 0.3 * (time.perf_counter() - start)

        future: Future[Any] = self._executor.submit(timed)
        slot.handed_over = True
        future.add_done_callback(lambda _: slot.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class Slot:
    """A place in a :class:`ModelQueue` (or a reservation in a :class:`MemoryBudget`); released exactly once."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._released = False
        self.handed_over = False  # once the job is on the model thread, its completion releases the slot

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release()


class MemoryBudget:
    """A server-wide budget of bytes of decoded images in flight."""

    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError(f"the memory budget must be positive, got {total}")
        self.total = total
        self._lock = threading.Lock()
        self._used = 0

    @property
    def used(self) -> int:
        return self._used

    def reserve(self, cost: int, what: str, retry_s: float) -> Slot:
        """Reserve ``cost`` bytes; 413 if it can never fit, 503 if it does not fit now."""
        if cost > self.total:
            raise ApiError(
                413,
                f"{what} needs about {cost / 2**30:.2f} GiB of working memory, more than this server's budget of "
                f"{self.total / 2**30:.2f} GiB; send a smaller image",
                {"cost_bytes": cost, "budget_bytes": self.total},
            )
        with self._lock:
            if self._used + cost > self.total:
                raise busy(
                    f"the server's memory budget is in use ({self._used / 2**30:.2f} of {self.total / 2**30:.2f} GiB)",
                    retry_s,
                    {"cost_bytes": cost, "budget_bytes": self.total},
                )
            self._used += cost
        return Slot(lambda: self._give_back(cost))

    def _give_back(self, cost: int) -> None:
        with self._lock:
            self._used -= cost


class Cancelled(Exception):
    """Raised inside the pipeline's progress callback when the client cancelled its job."""


@dataclass
class Job:
    """One fill's progress as the page polls it."""

    state: str = "queued"  # queued -> running -> done | cancelled | failed
    done: int = 0
    total: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, total: int) -> None:
        """The pipeline's per-window callback: record, and stop the fill here if it was cancelled."""
        if self.cancelled.is_set():
            raise Cancelled
        self.state, self.done, self.total = "running", done, total

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "done": self.done, "total": self.total}


class Jobs:
    """The newest ``keep`` jobs by id (old ones are forgotten; ids are the client's random strings)."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, job_id: str) -> Job:
        if not JOB_ID.match(job_id):
            raise ApiError(422, "invalid 'job': use 8-64 letters, digits, '-' or '_'", {"field": "job"})
        with self._lock:
            if job_id in self._jobs:
                raise ApiError(422, f"job {job_id!r} exists already: use a new id per fill", {"field": "job"})
            job = self._jobs[job_id] = Job()
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id!r} (unknown, or finished long ago)")
        return job
