"""What bounds the server's work: one model thread, a queue, a memory budget, and the jobs' progress.

* :class:`ModelQueue`: one worker thread runs the model; at most ``size`` admitted requests wait while one
  runs; beyond that 503 with ``Retry-After``.
* :class:`MemoryBudget`: a server-wide budget of working memory. A request reserves its cost (from the
  image headers, before anything is decoded; a fill tops it up to its plan's estimate before the model
  runs) and gives it back when it has answered: one too large for the whole budget gets 413, one that does
  not fit *now* gets 503. A large reservation given back also hands the freed heap back to the system
  (:func:`return_freed_memory`), so the idle server's RSS comes back down after big fills.
* :class:`Jobs`: the progress (windows done out of total) of fills that gave a job id, and their
  cancellation; the pipeline's per-window callback feeds it.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
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
    call has finished — or when it fails before reaching the model. ``Retry-After`` comes from the measured
    service time of recent requests (slot held, minus the time spent waiting for the model thread) times the
    number in progress: what a newcomer would wait behind them.
    """

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"queue_size must be >= 0, got {size}")
        self.capacity = size + 1  # the one running + the waiting ones
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gmcnn-model")
        self._lock = threading.Lock()
        self._admitted = 0
        self.mean_seconds = 1.0  # moving average of one request's own work, until one is measured

    @property
    def admitted(self) -> int:
        return self._admitted

    def expected_wait(self) -> float:
        """Seconds until the requests in progress are done: the mean service time times their number."""
        return self.mean_seconds * max(1, self._admitted)

    def admit(self) -> Slot:
        with self._lock:
            if self._admitted >= self.capacity:
                raise busy(
                    f"the server is busy ({self._admitted} requests in progress)",
                    self.expected_wait(),
                    {"queue_capacity": self.capacity},
                )
            self._admitted += 1
        return Slot(self._release)

    def _release(self, slot: Slot) -> None:
        served = time.perf_counter() - slot.admitted_at - slot.waited
        with self._lock:
            self._admitted -= 1
            if slot.handed_over:  # requests refused before the model would skew the mean toward zero
                self.mean_seconds = 0.7 * self.mean_seconds + 0.3 * served

    async def run(self, slot: Slot, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model thread; the slot is freed when it ends (even if this request is cancelled)."""
        submitted = time.perf_counter()

        def timed() -> Any:
            slot.waited = time.perf_counter() - submitted  # behind other requests: not this one's work
            return fn()

        future: Future[Any] = self._executor.submit(timed)
        slot.handed_over = True
        future.add_done_callback(lambda _: slot.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class Slot:
    """A place in a :class:`ModelQueue`; released exactly once."""

    def __init__(self, release: Callable[[Slot], None]) -> None:
        self._release = release
        self._released = False
        self.handed_over = False  # once the job is on the model thread, its completion releases the slot
        self.admitted_at = time.perf_counter()
        self.waited = 0.0  # seconds spent waiting for the model thread

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release(self)


class MemoryBudget:
    """A server-wide budget of bytes of working memory in flight."""

    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError(f"the memory budget must be positive, got {total}")
        self.total = total
        self._lock = threading.Lock()
        self._used = 0
        self._trim: threading.Timer | None = None

    @property
    def used(self) -> int:
        return self._used

    def reserve(self, cost: int, what: str, retry_s: float, detail: dict[str, Any] | None = None) -> Reservation:
        """Reserve ``cost`` bytes; 413 if it can never fit, 503 if it does not fit now."""
        reservation = Reservation(self)
        reservation.resize(cost, what, retry_s, detail)
        return reservation

    def _change(self, old: int, new: int, what: str, retry_s: float, detail: dict[str, Any] | None) -> None:
        facts = {**(detail or {}), "cost_bytes": new, "budget_bytes": self.total}
        if new > self.total:
            raise ApiError(
                413,
                f"{what} needs about {new / 2**30:.2f} GiB of working memory, more than this server's budget of "
                f"{self.total / 2**30:.2f} GiB",
                facts,
            )
        with self._lock:
            if self._used - old + new > self.total:
                raise busy(
                    f"the server's memory budget is in use ({self._used / 2**30:.2f} of {self.total / 2**30:.2f} GiB)",
                    retry_s,
                    facts,
                )
            self._used += new - old

    def _give_back(self, cost: int) -> None:
        with self._lock:
            self._used -= cost
            if cost < TRIM_BYTES or self._trim is not None:
                return
            # Later, not now: the request's image, result and answer are still referenced until it has been
            # answered, and each trim runs once for a burst of releases.
            self._trim = threading.Timer(TRIM_DELAY_S, self._trim_now)
            self._trim.daemon = True
            self._trim.start()

    def _trim_now(self) -> None:
        with self._lock:
            self._trim = None
        return_freed_memory()


class Reservation:
    """Bytes reserved in a :class:`MemoryBudget`: resized as the estimate firms up, released exactly once."""

    def __init__(self, budget: MemoryBudget) -> None:
        self._budget = budget
        self.cost = 0
        self._released = False

    def resize(self, cost: int, what: str, retry_s: float, detail: dict[str, Any] | None = None) -> None:
        """Hold ``cost`` bytes instead of the current amount; 413 / 503 (holding the old amount) if it cannot."""
        self._budget._change(self.cost, cost, what, retry_s, detail)
        self.cost = cost

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._budget._give_back(self.cost)


# Giving back a reservation this large also returns the freed heap to the system (a trim costs ~ms),
# TRIM_DELAY_S later, once the request's objects are gone.
TRIM_BYTES = 64 * 2**20
TRIM_DELAY_S = 0.5


M_ARENA_MAX = -8  # glibc's mallopt parameter number


@functools.cache
def _glibc(name: str) -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(libc, name)  # type: ignore[no-any-return]
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None


def _malloc_trim() -> Callable[..., int] | None:
    return _glibc("malloc_trim")


def return_freed_memory() -> None:
    """Hand freed heap pages back to the system (glibc ``malloc_trim``): big fills free hundreds of MB in
    pieces below the mmap threshold, which glibc otherwise keeps in its arenas for good."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def share_malloc_arenas(count: int = 2) -> bool:
    """Let every thread of this process share ``count`` glibc heap arenas (call it before the threads start).

    glibc gives a thread that meets contention an arena of its own, up to eight per core; a server's worker
    threads each fragment theirs, and a trim cannot hand back a page that any arena still uses: after a
    burst of fills the idle RSS stayed 19 % up with the default arenas and 2 % up with two
    (``benchmarks/web_memory.py --smoke``). False where the C library is not glibc.
    """
    mallopt = _glibc("mallopt")
    return bool(mallopt is not None and mallopt(M_ARENA_MAX, count))


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
