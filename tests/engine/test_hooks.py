"""Lifecycle hooks: the task's and the project's, run by real workers once the outcome is stored; a
hook that raises is noted on the timeline and changes nothing else."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.tasks import Task, task
from django.tasks.exceptions import InvalidTask
from django.test import override_settings
from django.utils import timezone

from jobs import hooks, registry, selectors, services, states
from jobs.conf import project_hooks
from jobs.models import Attempt, Job
from jobs.services import JobSpec
from jobs.status import Status
from tests import retry_tasks
from tests.conftest import wait_until

TASK_MODULES = "tests.tasks,tests.retry_tasks"


@pytest.fixture(autouse=True)
def _register_retry_tasks() -> None:
    for value in vars(retry_tasks).values():
        if isinstance(value, Task):
            registry.register(value)


def enqueue(task_name: str, *args: Any, **fields: Any) -> Job:
    return services.enqueue_job(spec=JobSpec(task_name=f"tests.retry_tasks.{task_name}", args=list(args), **fields))


def reloaded(job: Job) -> Job:
    job.refresh_from_db()
    return job


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.workers
def test_a_hook_that_raises_is_noted_and_changes_nothing(start_workers: Any, tmp_path: Path) -> None:
    path = tmp_path / "hooks.txt"
    job = enqueue("hooked_ok", str(path))
    after = enqueue("returns_path", "next")
    start_workers("-w", "1", JOBDECK_TASK_MODULES=TASK_MODULES)

    wait_until(lambda: reloaded(after).status == Status.DONE)
    wait_until(lambda: len(lines(path)) == 1)

    assert reloaded(job).status == Status.DONE and job.result == str(path)
    assert lines(path) == [f"on_success {job.pk} done 1"]  # the next hook still ran
    note = selectors.job_events(job.pk)[-1]
    assert (note.old_status, note.new_status) == ("done", "done")
    assert note.reason == f"hook on_success raising_hook raised ValueError: hook broke on job {job.pk}"


@pytest.mark.workers
def test_retry_failure_and_discard_hooks_get_the_outcome(start_workers: Any, tmp_path: Path) -> None:
    failing, discarded = tmp_path / "failing.txt", tmp_path / "discarded.txt"
    job = enqueue("hooked_failing", str(failing))
    other = enqueue("hooked_discard", str(discarded))
    start_workers("-w", "1", JOBDECK_TASK_MODULES=TASK_MODULES)

    wait_until(lambda: len(lines(failing)) == 2 and len(lines(discarded)) == 1)

    assert lines(failing) == [f"on_retry {job.pk} retrying 1", f"on_failure {job.pk} failed 2"]
    assert lines(discarded) == [f"on_failure {other.pk} failed 1"]


@pytest.mark.workers
def test_project_hooks_from_the_setting_run_for_every_task(start_workers: Any, tmp_path: Path) -> None:
    path = tmp_path / "project.txt"
    job = enqueue("returns_path", str(path))
    project = json.dumps({"on_success": ["tests.retry_tasks.record_hook"]})
    start_workers("-w", "1", JOBDECK_TASK_MODULES=TASK_MODULES, JOBDECK_HOOKS=project)

    wait_until(lambda: len(lines(path)) == 1)

    assert lines(path) == [f"on_success {job.pk} done 1"]


@pytest.mark.workers
def test_on_cancel_runs_for_a_running_job_the_worker_cancels(start_workers: Any, tmp_path: Path) -> None:
    path = tmp_path / "cancel.txt"
    job = enqueue("wait_for_cancel", str(path))
    start_workers("-w", "1", JOBDECK_TASK_MODULES=TASK_MODULES)
    wait_until(lambda: Path(f"{path}.started").exists())

    services.cancel_job(job_id=job.pk)

    wait_until(lambda: len(lines(path)) == 1)
    assert reloaded(job).status == Status.CANCELLED
    assert lines(path) == [f"on_cancel {job.pk} cancelled jobs.context.JobCancelled"]


def _finish(to: str, outcome: str | None = None) -> states.Finish:
    claimed = states.ClaimedJob(
        id=1,
        queue="default",
        task_name="t",
        args=[],
        payload={},
        attempt=1,
        max_attempts=3,
        timeout=None,
        worker="w",
        started_at=timezone.now(),
    )
    failure = None if outcome is None else states.Failure(outcome=outcome, error_class="x.Y", message="m")
    return states.Finish(claimed, to, "r", failure=failure, retry_at=None)


@pytest.mark.parametrize(
    ("to", "outcome", "kind"),
    [
        (Status.DONE, None, "on_success"),
        (Status.FAILED, Attempt.Outcome.FAILED, "on_failure"),
        (Status.RETRYING, Attempt.Outcome.FAILED, "on_retry"),
        (Status.RETRYING, Attempt.Outcome.SNOOZED, None),
        (Status.CANCELLED, Attempt.Outcome.CANCELLED, "on_cancel"),
        (Status.QUEUED, Attempt.Outcome.INTERRUPTED, None),
    ],
)
def test_which_hooks_a_finish_calls(to: str, outcome: str | None, kind: str | None) -> None:
    assert hooks.kind_of(_finish(to, outcome)) == kind


def test_no_hooks_means_nothing_to_call_after_the_outcome() -> None:
    # The common case costs nothing: no callable, so the worker's loop is unchanged.
    assert hooks.after_stored(_finish(Status.DONE), retry_tasks.returns_path) is None


@pytest.mark.django_db
def test_run_hooks_notes_a_raising_hook_and_calls_the_next(make_job: Any) -> None:
    job = make_job()
    called: list[int] = []
    outcome = hooks.JobOutcome(
        kind="on_success", job_id=job.pk, task_name="t", queue="default", attempt=1, max_attempts=3,
        status=Status.QUEUED, reason="done",
    )  # fmt: skip

    hooks.run_hooks(
        outcome, ["tests.retry_tasks.raising_hook", "no.such.hook", lambda o: called.append(o.job_id)], worker="w"
    )

    assert called == [job.pk]
    notes = [e.reason for e in selectors.job_events(job.pk)][1:]
    assert notes[0] == f"hook on_success tests.retry_tasks.raising_hook raised ValueError: hook broke on job {job.pk}"
    assert notes[1].startswith("hook on_success no.such.hook raised ModuleNotFoundError")
    assert reloaded(job).status == Status.QUEUED


def test_project_hooks_setting_is_checked() -> None:
    with override_settings(JOBDECK_HOOKS={"on_succes": ["a.b"]}), pytest.raises(ImproperlyConfigured):
        project_hooks()
    with override_settings(JOBDECK_HOOKS={"on_failure": "a.b"}):
        assert project_hooks() == {"on_failure": ["a.b"]}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"on_success": 3}, "on_success must be a callable or a dotted path, or a list of them"),
        ({"backoff": {"kind": "fibonacci"}}, "backoff must be an object"),
        ({"retry_on": ["not a class"]}, "retry_on must be a list of at most 20 dotted exception class names"),
        ({"max_snoozes": -1}, "max_snoozes must be a whole number between 0 and 10000"),
    ],
)
def test_bad_task_options_are_refused(option: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidTask, match=message):
        task(**option)(_module_level_function)


def _module_level_function() -> None:
    pass


def test_outcome_is_read_only() -> None:
    outcome = hooks.JobOutcome(
        kind="on_retry", job_id=1, task_name="t", queue="q", attempt=1, max_attempts=2, status="retrying",
        reason="will retry", retry_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )  # fmt: skip
    with pytest.raises(AttributeError):
        outcome.status = "done"  # type: ignore[misc]
