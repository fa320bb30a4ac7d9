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
