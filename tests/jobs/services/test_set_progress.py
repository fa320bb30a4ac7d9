"""services.set_progress: a running attempt reports progress; stale attempts and bad fractions are refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Job


def test_set_progress_records_fraction_and_message_of_the_running_attempt(make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert states.claim_next(queues=["default"], worker="w1", lease_seconds=60) is not None

    assert services.set_progress(job_id=job.pk, attempt=1, fraction=0.25, message="a quarter") is True

    job.refresh_from_db()
    assert (job.progress, job.progress_message) == (0.25, "a quarter")


def test_set_progress_of_a_stale_attempt_returns_false(make_job: Callable[..., Job]) -> None:
    job = make_job()
    assert states.claim_next(queues=["default"], worker="w1", lease_seconds=60) is not None

    assert services.set_progress(job_id=job.pk, attempt=2, fraction=0.5) is False
    assert Job.objects.get(pk=job.pk).progress is None


def test_set_progress_of_a_queued_job_returns_false(make_job: Callable[..., Job]) -> None:
    job = make_job()

    assert services.set_progress(job_id=job.pk, attempt=0, fraction=0.5) is False


@pytest.mark.django_db
@pytest.mark.parametrize("fraction", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_bad_progress_fraction_raises_invalid_job(fraction: Any) -> None:
    with pytest.raises(InvalidJob) as caught:
        services.set_progress(job_id=1, attempt=1, fraction=fraction)

    assert caught.value.message == "progress must be a number between 0 and 1"
