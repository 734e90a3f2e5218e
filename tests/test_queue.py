"""What bounds the server's work: the memory budget, the jobs, the bounded queue (also through HTTP), and the
real server's peak memory."""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np
import pytest
from helpers.web import Gate, assert_error, encode, hole, local, post, wait_until
from PIL import Image

from gmcnn import Inpainter
from gmcnn.web import create_app
from gmcnn.web.errors import ApiError
from gmcnn.web.queue import Cancelled, Jobs, MemoryBudget


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
def test_peak_memory_of_four_concurrent_100_mp_uploads_stays_under_the_documented_limit() -> None:
    """A real `gmcnn serve`; the limit is the idle RSS plus the memory budget (README, "Memory")."""
    from benchmarks.web_memory import measure

    result = measure(clients=4, side=10000)
    assert result["server_alive"] and result["statuses"] == [200, 200, 200, 200]
    assert result["under_limit"], result
    assert result["peak_rss_mib"] > result["idle_rss_mib"] + 500  # it did hold a 100 MP fill


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


def test_memory_budget_refuses_what_cannot_fit(inpainter: Inpainter, picture: np.ndarray) -> None:
    cost = 128 * 96 * 24  # BYTES_PER_PIXEL for this image
    with local(create_app(inpainter, memory_budget=cost - 1)) as c:
        body = assert_error(post(c, encode(picture), encode(hole())), 413, "working memory")
        assert body["detail"]["budget_bytes"] == cost - 1
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
