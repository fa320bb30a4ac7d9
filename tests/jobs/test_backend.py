"""The Django Tasks backend (jobs/backend.py): enqueue through @task objects, read back TaskResults."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import InvalidTask, TaskResultDoesNotExist, TaskResultMismatch
from django.tasks.signals import task_enqueued
from django.utils import timezone

from jobs import services, states
from jobs.models import Job, JobEvent
from jobs.status import Status
from tests.tasks import add, append_line

pytestmark = pytest.mark.django_db

FAILURE = states.Failure(outcome="failed", error_class="builtins.ValueError", message="boom", traceback="Traceback")


def claim(lease_seconds: float = 60.0) -> states.ClaimedJob:
    claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=lease_seconds)
    assert claimed is not None
    return claimed


def test_enqueue_creates_a_ready_job() -> None:
    result = add.enqueue(1, 2)

    job = Job.objects.get(pk=int(result.id))
    assert (job.task_name, job.args, job.payload) == ("tests.tasks.add", [1, 2], {})
    assert (job.status, job.queue, job.priority) == (Status.QUEUED, "default", 0)
    assert (result.status, result.args, result.kwargs, result.backend) == (
        TaskResultStatus.READY,
        [1, 2],
        {},
        "default",
    )
    assert result.enqueued_at == job.created_at
    assert (result.started_at, result.finished_at, result.errors, result.worker_ids) == (None, None, [], [])
    assert list(JobEvent.objects.values_list("new_status", "actor")) == [("queued", "django.tasks")]


def test_enqueue_stores_keyword_arguments_as_payload() -> None:
    result = add.enqueue(a=1, b=2)

    assert Job.objects.get(pk=int(result.id)).payload == {"a": 1, "b": 2}
    assert result.kwargs == {"a": 1, "b": 2}


def test_enqueue_sends_task_enqueued_signal() -> None:
    received = []

    def on_enqueued(sender: object, task_result: object, **kwargs: object) -> None:
        received.append(task_result)

    task_enqueued.connect(on_enqueued)
    try:
        result = add.enqueue(1, 2)
    finally:
        task_enqueued.disconnect(on_enqueued)

    assert [r.id for r in received] == [result.id]  # type: ignore[attr-defined]


def test_using_priority_queue_and_run_after_is_honoured() -> None:
    run_after = timezone.now() + datetime.timedelta(hours=2)

    result = add.using(priority=5, queue_name="emails", run_after=run_after).enqueue(1, 2)

    job = Job.objects.get(pk=int(result.id))
    assert (job.status, job.queue, job.priority, job.run_at) == (Status.SCHEDULED, "emails", 5, run_after)
    assert (result.status, result.task.queue_name, result.task.priority) == (TaskResultStatus.READY, "emails", 5)


def test_run_after_in_the_past_queues_the_job() -> None:
    result = add.using(run_after=timezone.now() - datetime.timedelta(minutes=1)).enqueue(1, 2)

    assert Job.objects.get(pk=int(result.id)).status == Status.QUEUED


def test_naive_run_after_is_refused_by_validation() -> None:
    with pytest.raises(InvalidTask, match="run_after must be an aware datetime"):
        add.using(run_after=datetime.datetime(2030, 1, 1)).enqueue(1, 2)  # noqa: DTZ001

    assert Job.objects.count() == 0


def test_unserialisable_arguments_raise_type_error_as_on_django_and_write_nothing() -> None:
    with pytest.raises(TypeError) as caught:
        append_line.enqueue("/tmp/x", {"a", "set"})  # noqa: S108

    assert isinstance(caught.value, InvalidTask)  # what Jobdeck raised before, still caught by `except InvalidTask`
    assert str(caught.value) == "Unsupported type: <class 'set'>"
    assert Job.objects.count() == 0
    assert JobEvent.objects.count() == 0


def test_aenqueue_creates_a_job_too() -> None:
    result = async_to_sync(add.aenqueue)(2, 3)

    assert Job.objects.get(pk=int(result.id)).args == [2, 3]


@pytest.mark.parametrize("result_id", ["999999", "not-a-number", ""])
def test_get_result_of_a_missing_id_raises_task_result_does_not_exist(result_id: str) -> None:
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(result_id)


def test_get_result_through_another_task_raises_mismatch() -> None:
    result = add.enqueue(1, 2)

    with pytest.raises(TaskResultMismatch):
        append_line.get_result(result.id)


def job_in(status: str) -> Job:
    """A job of tests.tasks.add driven into `status` through the state machine."""
    task = add.using(run_after=timezone.now() + datetime.timedelta(hours=1)) if status == Status.SCHEDULED else add
    job_id = int(task.enqueue(1, 2).id)
    if status == Status.CANCELLED:
        services.cancel_job(job_id=job_id)
    elif status not in (Status.SCHEDULED, Status.QUEUED):
        claimed = claim()
        if status == Status.DONE:
            assert states.record(states.Finish(claimed, Status.DONE, reason="done", result=3))
        elif status == Status.RETRYING:
            retry_at = timezone.now() + datetime.timedelta(hours=1)
            assert states.record(
                states.Finish(claimed, Status.RETRYING, reason="retry", failure=FAILURE, retry_at=retry_at)
            )
        elif status == Status.FAILED:
            assert states.record(states.Finish(claimed, Status.FAILED, reason="failed", failure=FAILURE))
    stored = Job.objects.get(pk=job_id)
    assert stored.status == status
    return stored


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (Status.SCHEDULED, TaskResultStatus.READY),
        (Status.QUEUED, TaskResultStatus.READY),
        (Status.RETRYING, TaskResultStatus.READY),
        (Status.RUNNING, TaskResultStatus.RUNNING),
        (Status.DONE, TaskResultStatus.SUCCESSFUL),
        (Status.FAILED, TaskResultStatus.FAILED),
        (Status.CANCELLED, TaskResultStatus.FAILED),
    ],
)
def test_get_result_maps_our_states_onto_djangos_four(status: str, expected: TaskResultStatus) -> None:
    job = job_in(status)

    assert add.get_result(str(job.pk)).status == expected


def test_get_result_of_a_running_job_names_its_worker() -> None:
    job = job_in(Status.RUNNING)

    result = add.get_result(str(job.pk))

    assert (result.worker_ids, result.attempts, result.started_at) == (["w1"], 1, job.started_at)
    assert result.is_finished is False


def test_get_result_of_a_done_job_carries_its_return_value() -> None:
    job = job_in(Status.DONE)

    result = add.get_result(str(job.pk))

    assert (result.return_value, result.errors, result.worker_ids) == (3, [], ["w1"])
    assert result.finished_at == job.finished_at
    assert result.is_finished is True


def test_get_result_of_a_failed_job_lists_its_errors() -> None:
    job = job_in(Status.FAILED)

    result = add.get_result(str(job.pk))

    assert [(e.exception_class_path, e.traceback) for e in result.errors] == [("builtins.ValueError", "Traceback")]
    assert result.errors[0].exception_class is ValueError


def test_get_result_of_a_job_whose_worker_was_lost_has_an_importable_error_class(
    make_job: Callable[..., Job],
) -> None:
    job = make_job(max_attempts=1)
    claim(lease_seconds=-60)  # the worker died without renewing its lease
    assert states.rescue_expired() == 1

    result = add.get_result(str(job.pk))

    assert result.status == TaskResultStatus.FAILED
    assert len(result.errors) == 1
    assert issubclass(result.errors[0].exception_class, BaseException)


def test_get_result_of_a_cancelled_job_gives_the_reason_in_errors() -> None:
    job = job_in(Status.CANCELLED)

    result = add.get_result(str(job.pk))

    assert result.status == TaskResultStatus.FAILED
    assert len(result.errors) == 1
    assert issubclass(result.errors[0].exception_class, BaseException)


def test_refresh_picks_up_the_new_state() -> None:
    result = add.enqueue(1, 2)
    assert states.record(states.Finish(claim(), Status.DONE, reason="done", result=3))

    result.refresh()

    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 3)


def test_a_cancelled_job_is_logged_at_info_with_its_stored_state(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from jobs import taskresults

    job = add.enqueue(1, 2)
    claimed = claim()
    services.cancel_job(job_id=int(job.id))
    outcome = states.Finish(claimed, Status.CANCELLED, "cancelled", failure=FAILURE)
    assert states.record(outcome)

    with caplog.at_level(logging.INFO, logger="django.tasks"):
        taskresults.notify_finished(add, outcome)

    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "django.tasks"]
    assert lines == [("INFO", f"Task id={job.id} path=tests.tasks.add state=CANCELLED")]


def test_a_failed_job_is_still_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from jobs import taskresults

    job = add.enqueue(1, 2)
    claimed = claim()
    outcome = states.Finish(claimed, Status.FAILED, "attempts exhausted", failure=FAILURE)
    assert states.record(outcome)

    with caplog.at_level(logging.INFO, logger="django.tasks"):
        taskresults.notify_finished(add, outcome)

    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "django.tasks"]
    assert lines == [("ERROR", f"Task id={job.id} path=tests.tasks.add state=FAILED")]


def test_every_enqueue_path_sends_task_enqueued_as_get_result_reads_it() -> None:
    from jobs.services import schedules

    received = []

    def on_enqueued(sender: object, task_result: object, **kwargs: object) -> None:
        received.append(task_result)

    schedule = schedules.create_schedule(
        name="every-minute", cron="* * * * *", task_name="tests.tasks.add", args=[5, 6]
    )
    task_enqueued.connect(on_enqueued)
    try:
        direct = add.enqueue(1, 2)
        one = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[3, 4], priority=5))
        many = services.enqueue_jobs(
            specs=[services.JobSpec(task_name="tests.tasks.append_line", args=["/dev/null", "x"]) for _ in range(2)]
        )
        fired = schedules.run_schedule_now(schedule_id=schedule.pk)
    finally:
        task_enqueued.disconnect(on_enqueued)

    ids = [direct.id, str(one.pk), *(str(j.pk) for j in many), str(fired.pk)]
    assert [r.id for r in received] == ids  # type: ignore[attr-defined]
    for sent in received:
        stored = default_task_backend.get_result(sent.id)  # type: ignore[attr-defined]
        assert (sent.status, sent.args, sent.kwargs, sent.enqueued_at, sent.worker_ids, sent.errors) == (  # type: ignore[attr-defined]
            stored.status,
            stored.args,
            stored.kwargs,
            stored.enqueued_at,
            stored.worker_ids,
            stored.errors,
        )
        assert (sent.task.queue_name, sent.task.priority) == (stored.task.queue_name, stored.task.priority)  # type: ignore[attr-defined]
