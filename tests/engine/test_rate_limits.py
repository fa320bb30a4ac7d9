"""Rate limits: at most max_starts starts per period for a queue, task or key, checked in the claim;
jobs over the limit wait (no attempt used), in order."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from jobs import services, states
from jobs.exceptions import InvalidJob
from jobs.models import Job, RateStart
from jobs.services.rate_limits import prune_rate_starts, remove_rate_limit, set_rate_limit
from jobs.status import Status
from jobs.waiting import rate_reason


def enqueue(**fields: Any) -> Job:
    fields.setdefault("task_name", "tests.tasks.add")
    fields.setdefault("args", [1, 2])
    return services.enqueue_job(spec=services.JobSpec(**fields), actor="alice")


def claim() -> int | None:
    claimed = states.claim_next(queues=["default", "other"], worker="w", lease_seconds=30)
    return None if claimed is None else claimed.id


def age_starts(seconds: float) -> None:
    """Move every recorded start `seconds` into the past, as if that much time went by."""
    for start in RateStart.objects.all():
        RateStart.objects.filter(pk=start.pk).update(at=start.at - seconds)


@pytest.mark.django_db
def test_a_queue_limit_holds_its_jobs_and_not_other_queues() -> None:
    set_rate_limit(scope="queue", name="default", max_starts=2, period=60)
    jobs = [enqueue() for _ in range(3)]
    other = enqueue(queue="other")

    assert [claim(), claim(), claim(), claim()] == [jobs[0].pk, jobs[1].pk, other.pk, None]
    waiting = Job.objects.get(pk=jobs[2].pk)
    assert waiting.status == Status.QUEUED and waiting.attempt == 0
    reason = rate_reason(waiting)
    assert reason is not None and reason.startswith("rate limit: next start in ")
    assert reason.endswith(" s (queue default: 2 per 60 s)")


@pytest.mark.django_db
def test_the_window_slides_and_the_oldest_waiting_job_starts_first() -> None:
    set_rate_limit(scope="task", name="tests.tasks.add", max_starts=1, period=10)
    first, second, third = enqueue(), enqueue(), enqueue()
    assert [claim(), claim()] == [first.pk, None]

    age_starts(10.5)

    assert [claim(), claim()] == [second.pk, None]
    age_starts(10.5)
    assert claim() == third.pk


@pytest.mark.django_db
def test_a_key_limit_counts_only_that_keys_starts() -> None:
    set_rate_limit(scope="key", name="partner:a", max_starts=1, period=60)
    a1, a2 = (
        enqueue(concurrency_key="partner:a", concurrency_limit=5),
        enqueue(concurrency_key="partner:a", concurrency_limit=5),
    )
    b = enqueue(concurrency_key="partner:b", concurrency_limit=5)

    assert [claim(), claim(), claim()] == [a1.pk, b.pk, None]
    assert Job.objects.get(pk=a2.pk).status == Status.QUEUED


@pytest.mark.django_db
def test_removing_the_limit_lets_the_jobs_start() -> None:
    set_rate_limit(scope="queue", name="default", max_starts=1, period=60)
    first, second = enqueue(), enqueue()
    assert [claim(), claim()] == [first.pk, None]

    assert remove_rate_limit(scope="queue", name="default") is True

    assert claim() == second.pk


@pytest.mark.django_db
def test_old_starts_are_pruned() -> None:
    set_rate_limit(scope="queue", name="default", max_starts=5, period=10)
    enqueue(), enqueue()
    claim(), claim()
    age_starts(11)

    assert prune_rate_starts(now=timezone.now().timestamp()) == 2
    assert not RateStart.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scope": "host"}, "scope must be queue, task or key"),
        ({"max_starts": 0}, "max_starts must be a whole number of at least 1"),
        ({"period": 0}, "period must be a positive number of seconds, at most 86400"),
    ],
)
def test_bad_limits_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        set_rate_limit(**({"scope": "queue", "name": "default", "max_starts": 1, "period": 1.0} | fields))

    assert caught.value.message == message
