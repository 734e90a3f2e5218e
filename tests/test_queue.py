"""What bounds the server's work: the memory budget, the jobs, and the real server's peak memory."""

from __future__ import annotations

import pytest

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
