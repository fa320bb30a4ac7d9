"""Rate limits with real worker processes (four runworkers, thread and process kinds): no window of
the period ever holds more starts than the limit, by the Attempt rows' start times, and the jobs
over the limit wait without using attempts. Runs on whichever database the suite uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs import services
from jobs.models import Attempt, Job, RateStart
from jobs.services import JobSpec
from jobs.services.rate_limits import set_rate_limit
from jobs.status import Status
from tests.conftest import wait_until

MAX_STARTS, PERIOD, JOBS = 3, 1.0, 12


def crowded_windows(starts: list[float]) -> list[tuple[float, float]]:
    """Pairs of starts MAX_STARTS apart that lie less than PERIOD apart: a window of PERIOD seconds
    holding MAX_STARTS + 1 starts. A start counts in (now - PERIOD, now]."""
    starts = sorted(starts)
    return [(a, b) for a, b in zip(starts, starts[MAX_STARTS:], strict=False) if b - a < PERIOD]


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_no_window_holds_more_starts_than_the_limit(start_workers, tmp_path: Path, kind: str) -> None:  # noqa: ANN001
    set_rate_limit(scope="queue", name="default", max_starts=MAX_STARTS, period=PERIOD)
    for _ in range(4):  # all running before the jobs arrive, so all compete for the starts
        start_workers("-w", "2", "-k", kind)
    services.enqueue_jobs(specs=[JobSpec(task_name="tests.tasks.add", args=[1, 2]) for _ in range(JOBS)])

    wait_until(lambda: Job.objects.filter(status=Status.DONE).count() == JOBS, timeout=120)

    starts = [a.started_at.timestamp() for a in Attempt.objects.all()]
    assert len(starts) == JOBS
    assert crowded_windows(starts) == []
    assert sorted(RateStart.objects.values_list("at", flat=True)) == sorted(starts)
    assert set(Job.objects.values_list("attempt", flat=True)) == {1}  # waiting used no attempt
    # The limit paced the drain: 12 starts at 3 per second take at least 3 seconds.
    assert max(starts) - min(starts) >= (JOBS / MAX_STARTS - 1) * PERIOD
