"""What bounds the server's work: the memory budget, the jobs, the bounded queue (also through HTTP), and the
real server's peak memory."""

from __future__ import annotations

import asyncio
import io
import math
import threading
import time
from typing import Any

import numpy as np
import pytest
from helpers.web import Gate, assert_error, encode, hole, local, post, wait_until
from PIL import Image

from gmcnn import Inpainter
from gmcnn.inpainting.memory import fill_memory, provisional_plan
from gmcnn.inpainting.options import FillOptions
from gmcnn.web import create_app
from gmcnn.web import queue as queue_module
from gmcnn.web.errors import ApiError
from gmcnn.web.queue import TRIM_BYTES, Cancelled, Jobs, MemoryBudget, ModelQueue


def test_memory_budget_reserves_and_gives_back() -> None:
    budget = MemoryBudget(100)
    first = budget.reserve(60, "a", retry_s=2)
    with pytest.raises(ApiError) as busy:
        budget.reserve(50, "b", retry_s=2)
    assert busy.value.status == 503 and busy.value.headers == {"Retry-After": "2"}
    with pytest.raises(ApiError) as never:
        budget.reserve(101, "c", retry_s=2)
    assert never.value.status == 413 and "budget" in never.value.message
    first.release()
    first.release()  # exactly once
    assert budget.used == 0
    budget.reserve(100, "d", retry_s=2).release()


def test_jobs_report_progress_and_cancel() -> None:
    jobs = Jobs(keep=2)
    job = jobs.start("abcdefgh")
    assert job.to_dict() == {"state": "queued", "done": 0, "total": 0}
    job.progress(1, 3)
    assert jobs.get("abcdefgh").to_dict() == {"state": "running", "done": 1, "total": 3}
    job.cancelled.set()
    with pytest.raises(Cancelled):
        job.progress(2, 3)
    for bad in ("short", "has/slash-123", "x" * 65):
        with pytest.raises(ApiError):
            jobs.start(bad)
    with pytest.raises(ApiError):
        jobs.start("abcdefgh")  # ids are single use
    jobs.start("second-1")
    jobs.start("third-12")
    with pytest.raises(ApiError) as gone:
        jobs.get("abcdefgh")  # only the newest `keep` are kept
    assert gone.value.status == 404


@pytest.mark.slow
def test_a_real_server_stays_under_its_memory_ceiling_and_gives_memory_back() -> None:
    """A real `gmcnn serve` (benchmarks/web_memory.py --smoke): a fill and a refused resize at 8192 stay under
    the documented ceiling (idle RSS + budget), and a burst of fills leaves the idle RSS within 20 %."""
    from benchmarks.web_memory import measure

    result = measure(10000, 12, smoke=True)
    assert result["server_alive"]
    for row in result["scenarios"]:
        assert row["as_expected"] and row["under_ceiling"], row
    assert result["burst"]["statuses"] == {"200": 12}
    assert abs(result["idle_growth"]) < 0.2, result


def test_server_threads_share_two_malloc_arenas_on_glibc() -> None:
    assert queue_module.share_malloc_arenas() is True  # glibc here; False elsewhere, and nothing breaks


def test_results_of_concurrent_requests_are_not_mixed(inpainter: Inpainter, picture: np.ndarray) -> None:
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, picture.shape, dtype=np.uint8) for _ in range(4)]
    mask = hole()
    results: dict[int, Any] = {}
    with local(create_app(inpainter, queue_size=4)) as c:

        def send(i: int) -> None:
            results[i] = post(c, encode(images[i]), encode(mask))

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    for i, image in enumerate(images):
        assert results[i].status_code == 200, results[i].text
        out = np.asarray(Image.open(io.BytesIO(results[i].content)))
        assert np.array_equal(out[mask == 0], image[mask == 0])


def test_errors_do_not_leak_queue_slots(inpainter: Inpainter, picture: np.ndarray) -> None:
    with local(create_app(inpainter, queue_size=0)) as c:
        for _ in range(3):
            assert post(c, b"junk", encode(hole())).status_code == 415
            assert post(c, encode(picture), encode(hole(8, 8))).status_code == 422
        assert c.app.state.queue.admitted == 0
        assert post(c, encode(picture), encode(hole())).status_code == 200


def test_full_queue_answers_503_with_retry_after(inpainter: Inpainter, picture: np.ndarray) -> None:
    gate = Gate(inpainter)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, picture.shape, dtype=np.uint8) for _ in range(2)]
    mask = hole()
    results: dict[int, Any] = {}
    with local(create_app(gate, queue_size=1)) as c:  # one running + one waiting
        queue = c.app.state.queue

        def send(i: int) -> None:
            results[i] = post(c, encode(images[i]), encode(mask))

        first = threading.Thread(target=send, args=(0,))
        first.start()
        assert gate.entered.wait(30), "the first request never reached the model"
        second = threading.Thread(target=send, args=(1,))
        second.start()
        wait_until(lambda: queue.admitted == 2, "the second request to be queued")

        busy = post(c, encode(picture), encode(mask))
        body = assert_error(busy, 503, "busy")
        assert int(busy.headers["retry-after"]) >= 1
        assert body["detail"]["queue_capacity"] == 2
        assert c.get("/api/v1/health").json()["queue"] == {"in_progress": 2}

        gate.opened.set()
        first.join(60)
        second.join(60)
        for i in range(2):  # the queued requests were not lost, and each got its own image back
            assert results[i].status_code == 200, results[i].text
            out = np.asarray(Image.open(io.BytesIO(results[i].content)))
            assert np.array_equal(out[mask == 0], images[i][mask == 0])
        wait_until(lambda: queue.admitted == 0, "the slots to be released")
        assert post(c, encode(picture), encode(mask)).status_code == 200


def _fill_cost(inpainter: Inpainter, height: int, width: int, options: FillOptions) -> int:
    """What the server reserves for a fill before the mask is read: the library's estimate of its plan, with the
    options the model decides (detail) resolved as the server resolves them."""
    runner = inpainter.runner
    options = options.for_model(inpainter.contract)
    plan = provisional_plan(height, width, options, inpainter.contract.process_size)
    return fill_memory(height, width, plan, options, config=inpainter.generator.config, runtime=runner.runtime,
                       precision=runner.precision).total  # fmt: skip


def test_memory_budget_refuses_what_cannot_fit(inpainter: Inpainter, picture: np.ndarray) -> None:
    cost = _fill_cost(inpainter, 96, 128, FillOptions())
    with local(create_app(inpainter, memory_budget=cost - 1)) as c:
        body = assert_error(post(c, encode(picture), encode(hole())), 413, "working memory")
        assert body["detail"]["budget_bytes"] == cost - 1 and body["detail"]["cost_bytes"] == cost
    gate = Gate(inpainter)
    with local(create_app(gate, memory_budget=int(cost * 1.5), queue_size=3)) as c:
        results: dict[str, Any] = {}
        first = threading.Thread(target=lambda: results.setdefault("first", post(c, encode(picture), encode(hole()))))
        first.start()
        assert gate.entered.wait(30)
        busy = post(c, encode(picture), encode(hole()))
        gate.opened.set()
        assert_error(busy, 503, "memory budget")
        assert int(busy.headers["retry-after"]) >= 1
        first.join(60)
        assert results["first"].status_code == 200
        assert c.app.state.gmcnn.budget.used == 0
        assert post(c, encode(picture), encode(hole())).status_code == 200


def test_job_progress_and_cancel(inpainter: Inpainter, picture: np.ndarray) -> None:
    gate = Gate(inpainter)
    with local(create_app(gate)) as c:
        results: dict[str, Any] = {}

        def send(job: str) -> None:
            results[job] = post(c, encode(picture), encode(hole()), job=job, strategy="crop", process_size=64)

        first = threading.Thread(target=send, args=("job-one-1234",))
        first.start()
        assert gate.entered.wait(30)
        second = threading.Thread(target=send, args=("job-two-1234",))
        second.start()
        wait_until(lambda: c.get("/api/v1/jobs/job-two-1234").status_code == 200, "the second job to be known")
        assert c.get("/api/v1/jobs/job-two-1234").json()["state"] == "queued"
        assert c.delete("/api/v1/jobs/job-two-1234").status_code == 200  # cancelled while it waits
        gate.opened.set()
        first.join(60)
        second.join(60)
        assert results["job-one-1234"].status_code == 200
        assert c.get("/api/v1/jobs/job-one-1234").json() == {"state": "done", "done": 1, "total": 1}
        assert_error(results["job-two-1234"], 409, "cancelled")
        assert c.get("/api/v1/jobs/job-two-1234").json()["state"] == "cancelled"
        assert_error(c.get("/api/v1/jobs/never-seen-1"), 404, "no job")
        assert_error(post(c, encode(picture), encode(hole()), job="../bad"), 422, "job")
        assert c.app.state.queue.admitted == 0


def test_retry_after_is_the_measured_service_time_times_the_requests_in_progress() -> None:
    """A request's own work (decoding before the model, the model call) is measured; time spent waiting
    for the model thread behind others is not, or every busy answer would count the queue twice."""
    queue = ModelQueue(2)

    async def request(before_model: float, on_model: float) -> None:
        slot = queue.admit()
        await asyncio.sleep(before_model)  # the decode, off the model thread
        await queue.run(slot, lambda: time.sleep(on_model))

    async def burst() -> None:
        await asyncio.gather(*(request(0.1, 0.2) for _ in range(3)))  # the 2nd and 3rd wait for the 1st

    for _ in range(3):
        asyncio.run(burst())
    assert 0.25 <= queue.mean_seconds < 0.45, queue.mean_seconds  # ~0.3 s each; 0.5 if the wait counted
    held = [queue.admit() for _ in range(3)]
    with pytest.raises(ApiError) as refused:
        queue.admit()
    expected = math.ceil(queue.mean_seconds * 3)
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": str(expected)}
    for slot in held:
        slot.release()
    queue.close()


def test_large_reservations_given_back_return_the_freed_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(queue_module, "return_freed_memory", lambda: trims.append(1))
    budget = MemoryBudget(4 * TRIM_BYTES)
    small = budget.reserve(1000, "small", retry_s=1)
    big = budget.reserve(1000, "big", retry_s=1)
    big.resize(2 * TRIM_BYTES, "big", retry_s=1)  # topped up to its plan's estimate
    with pytest.raises(ApiError) as never:
        big.resize(5 * TRIM_BYTES, "big", retry_s=1)
    assert never.value.status == 413 and big.cost == 2 * TRIM_BYTES  # a refused top-up keeps what it held
    small.release()
    big.release()
    assert budget.used == 0
    wait_until(lambda: trims == [1], "the trim after the large release")
    time.sleep(2 * queue_module.TRIM_DELAY_S)
    assert trims == [1]  # once: the small release asked for none
    assert queue_module._malloc_trim() is not None  # glibc here: the real trim is found
