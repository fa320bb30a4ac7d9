"""The retry policy's rules without workers: backoff kinds, class matching, precedence, validation at
every entry point (JobSpec, CLI, queue service) and the waiting reasons."""

from __future__ import annotations

import datetime
import random
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.tasks import Task
from django.utils import timezone

from jobs import registry, retry, services, states
from jobs.engine import policies
from jobs.exceptions import InvalidJob, InvalidQueue
from jobs.models import Attempt, Job
from jobs.services import JobSpec
from jobs.status import Status
from jobs.waiting import waiting_reason
from tests import retry_tasks


@pytest.fixture(autouse=True)
def _register_retry_tasks() -> None:
    for value in vars(retry_tasks).values():
        if isinstance(value, Task):
            registry.register(value)


class FixedRandom(random.Random):
    def random(self) -> float:
        return 1.0


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("exponential", [2, 4, 8, 10]), ("linear", [2, 4, 6, 8]), ("constant", [2, 2, 2, 2])],
)
def test_backoff_kinds_grow_as_named_and_stop_at_the_cap(kind: str, expected: list[float]) -> None:
    backoff = retry.Backoff(kind=kind, base=2, cap=10, jitter=0.5)

    delays = [retry.delay_seconds(attempt=n, backoff=backoff, rng=FixedRandom()) for n in (1, 2, 3, 4)]

    assert delays == expected


def test_jitter_takes_its_share_of_the_wait() -> None:
    rng = random.Random(7)  # noqa: S311
    backoff = retry.Backoff(kind="constant", base=10, cap=100, jitter=0.3)

    delays = [retry.delay_seconds(attempt=1, backoff=backoff, rng=rng) for _ in range(200)]

    assert 7 <= min(delays) < 7.5 and 9.5 < max(delays) <= 10


def test_the_global_default_is_unchanged() -> None:
    now = timezone.now()
    old = retry.RetryPolicy(base_seconds=5, max_seconds=3600)
    same = retry.Backoff(kind="exponential", base=5, cap=3600, jitter=0.5)
    for attempt in (1, 2, 3):
        a = retry.next_run_at(attempt=attempt, max_attempts=9, policy=old, now=now, rng=random.Random(attempt))  # noqa: S311
        b = retry.next_run_at(attempt=attempt, max_attempts=9, policy=same, now=now, rng=random.Random(attempt))  # noqa: S311
        assert a == b


def test_matching_is_by_dotted_name_and_includes_subclasses() -> None:
    assert retry.matches(ConnectionResetError, ["builtins.ConnectionError"])
    assert retry.matches(KeyError, retry.class_names([LookupError], field="x"))
    assert not retry.matches(ValueError, ["builtins.ConnectionError", "app.Missing"])


@pytest.mark.parametrize(
    "value",
    [{"kind": "fibonacci"}, {"base": -1}, {"base": 10, "cap": 5}, {"jitter": 2}, {"base": True}, {"extra": 1}, 3],
)
def test_bad_backoffs_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="backoff must be an object"):
        retry.parse_backoff(value)


def test_backoff_text_of_the_cli() -> None:
    assert retry.parse_backoff_text("linear:10:600:0.2") == retry.Backoff("linear", 10, 600, 0.2)
    assert retry.parse_backoff_text("constant") == retry.Backoff("constant", 5, 3600, 0.5)
    with pytest.raises(ValueError):
        retry.parse_backoff_text("linear:ten")


@pytest.mark.django_db
def test_the_jobs_policy_is_stored_and_validated() -> None:
    backoff = {"kind": "linear", "base": 1}
    job = services.enqueue_job(
        spec=JobSpec(task_name="tests.tasks.add", args=[1, 2], backoff=backoff, retry_on=["builtins.OSError"])
    )

    assert Job.objects.get(pk=job.pk).retry_policy == {
        "backoff": {"kind": "linear", "base": 1.0, "cap": 3600.0, "jitter": 0.5},
        "retry_on": ["builtins.OSError"],
    }
    with pytest.raises(InvalidJob, match="discard_on must be a list"):
        services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=[1, 2], discard_on=["no dots"]))
    assert (
        Job.objects.get(pk=services.enqueue_job(spec=JobSpec(task_name="tests.tasks.add", args=[1, 2])).pk).retry_policy
        is None
    )


def _claimed(queue: str = "default", policy: dict[str, Any] | None = None) -> states.ClaimedJob:
    return states.ClaimedJob(
        id=1, queue=queue, task_name="t", args=[], payload={}, attempt=1, max_attempts=3, timeout=None,
        worker="w", started_at=timezone.now(), retry_policy=policy,
    )  # fmt: skip


@pytest.mark.django_db
def test_precedence_job_then_task_then_queue_then_settings() -> None:
    services.set_queue_retry_policy(
        name="q", backoff={"kind": "linear", "base": 3}, retry_on=["builtins.OSError"], discard_on=["app.E"]
    )
    policies.forget_queue_policies()
    task = retry_tasks.fail_always_constant  # backoff: constant 0.5

    from_task = policies.resolve(_claimed("q"), task)
    from_job = policies.resolve(_claimed("q", {"backoff": {"kind": "exponential", "base": 9}}), task)
    from_queue = policies.resolve(_claimed("q"), retry_tasks.fail_always)
    from_settings = policies.resolve(_claimed("other"), retry_tasks.fail_always)

    assert from_task.backoff == retry.Backoff("constant", 0.5, 3600, 0) and from_task.retry_on == ("builtins.OSError",)
    assert from_job.backoff is not None and from_job.backoff.kind == "exponential"
    assert from_queue == policies.Rules(retry.Backoff("linear", 3, 3600, 0.5), ("builtins.OSError",), ("app.E",))
    assert from_settings == policies.Rules(None, (), ())


@pytest.mark.django_db
def test_queue_policy_service_refuses_bad_parts_and_clears() -> None:
    with pytest.raises(InvalidQueue, match="backoff must be an object"):
        services.set_queue_retry_policy(name="q", backoff={"kind": "x"})
    services.set_queue_retry_policy(name="q", retry_on=[OSError])
    assert services.set_queue_retry_policy(name="q").retry_policy is None


@pytest.mark.django_db
def test_cli_takes_backoff_retry_on_and_discard_on() -> None:
    out = StringIO()
    call_command(
        "enqueue", "tests.tasks.add", "--args", "[1, 2]", "--backoff", "constant:2",
        "--retry-on", "builtins.OSError", "--discard-on", "builtins.KeyError", "--discard-on", "app.Gone", stdout=out,
    )  # fmt: skip

    job = Job.objects.get()
    assert job.retry_policy == {
        "backoff": {"kind": "constant", "base": 2.0, "cap": 3600.0, "jitter": 0.5},
        "retry_on": ["builtins.OSError"],
        "discard_on": ["builtins.KeyError", "app.Gone"],
    }
    with pytest.raises(CommandError, match="must be kind"):
        call_command("enqueue", "tests.tasks.add", "--backoff", "quadratic", stdout=out)


def _finish_as(job: Job, to: str, outcome: str, reason: str, retry_at: datetime.datetime) -> Job:
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None and claimed.id == job.pk
    failure = states.Failure(outcome=outcome, error_class="x.Y", message="m")
    assert states.record(states.Finish(claimed, to, reason, failure=failure, retry_at=retry_at))
    return Job.objects.get(pk=job.pk)


@pytest.mark.django_db
def test_waiting_reasons_say_retry_n_of_m_or_snoozed_until(make_job: Any) -> None:
    at = timezone.now() + datetime.timedelta(hours=1)
    when = timezone.localtime(at).strftime("%Y-%m-%d %H:%M:%S %Z")
    retried = _finish_as(make_job(max_attempts=5), Status.RETRYING, Attempt.Outcome.FAILED, "will retry", at)
    snoozed = _finish_as(
        make_job("tests.retry_tasks.snooze_forever"), Status.RETRYING, Attempt.Outcome.SNOOZED, "s", at
    )

    assert waiting_reason(retried) == f"retry 2 of 5 at {when}"
    assert waiting_reason(snoozed) == f"snoozed until {when} (snooze 1 of 2)"
    assert (snoozed.snoozes, snoozed.attempts_spent) == (1, 0)
    # A queued job has no retry reason; with no worker running, it waits for one that has its task.
    assert waiting_reason(make_job()) == "Waiting for a worker that has task tests.tasks.add"
