"""Tasks that misbehave: exceptions that cannot be described, oversized results, leftover children."""

from __future__ import annotations

import pytest

from jobs import services
from jobs.models import Attempt, Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until

pytestmark = pytest.mark.workers


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_exception_that_cannot_be_described_fails_the_attempt_at_once(start_workers, kind: str) -> None:
    # Before the fix the worker itself raised while describing the error, the outcome was never
    # written, and the job ended only when its lease expired, as "worker lost".
    modes = ("str", "repr", "both", "traceback")
    jobs = {
        mode: services.enqueue_job(spec=JobSpec(task_name="tests.tasks.raise_unprintable", args=[mode], max_attempts=1))
        for mode in modes
    }
    start_workers("-w", "1", "-k", kind)

    wait_until(lambda: all(status_of(job) == Status.FAILED for job in jobs.values()))

    for mode, job in jobs.items():
        attempt = Attempt.objects.get(job=job)
        assert (attempt.outcome, attempt.error_class) == ("failed", "tests.tasks.UnprintableError"), mode
        assert job.last_error != "worker lost", mode
        assert job.last_error.startswith("tests.tasks.UnprintableError: "), mode
        if mode in ("str", "both"):
            assert attempt.error_message == "<UnprintableError: str() raised RuntimeError>"
        else:
            assert attempt.error_message == "printable after all"
        assert "raise_unprintable" in attempt.traceback, mode


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_result_over_the_limit_fails_the_job_without_storing_or_retrying(start_workers, kind: str) -> None:
    # Before the limit, a 50 MB result was stored whole and served whole by every job endpoint.
    big = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.returns_chars", args=[5000], max_attempts=3))
    fits = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.returns_chars", args=[900]))
    start_workers("-w", "1", "-k", kind, JOBDECK_MAX_RESULT_BYTES="1000")

    wait_until(lambda: status_of(big) == Status.FAILED and status_of(fits) == Status.DONE)

    assert big.result is None
    assert big.attempt == 1  # another attempt would return as much again
    attempt = Attempt.objects.get(job=big)
    assert (attempt.outcome, attempt.error_class) == ("failed", "jobs.exceptions.ResultTooLarge")
    assert attempt.error_message == "result too large: 5002 bytes > limit 1000 bytes"
    assert big.last_error == "jobs.exceptions.ResultTooLarge: result too large: 5002 bytes > limit 1000 bytes"
    assert fits.result == "x" * 900
