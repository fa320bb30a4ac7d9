"""Task log lines and progress, kept per attempt: with real workers, and the buffer on its own."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from jobs import services
from jobs.engine.logcapture import Limits, LogBuffer
from jobs.models import Attempt, Job, JobLog
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import wait_until


def status_of(job: Job) -> str:
    job.refresh_from_db()
    return job.status


def lines(job: Job, attempt: int) -> list[tuple[str, str, str]]:
    rows = JobLog.objects.filter(job=job, attempt=attempt).order_by("id")
    return [(row.level_name, row.logger, row.message) for row in rows]


@pytest.mark.workers
@pytest.mark.parametrize("kind", ["thread", "process", "isolated"])
def test_log_lines_and_progress_are_kept_per_attempt_across_a_retry(start_workers, tmp_path: Path, kind: str) -> None:
    release = tmp_path / "release"
    job = services.enqueue_job(
        spec=JobSpec(task_name="tests.tasks.log_then_fail_once", kwargs={"wait_path": str(release)}, max_attempts=3)
    )
    start_workers("-w", "1", "-k", kind)

    # Attempt 2 waits for the release file: its lines are stored while it still runs.
    wait_until(lambda: any("recovered" in m for _, _, m in lines(job, 2)), message="attempt 2 lines not live")
    assert status_of(job) == Status.RUNNING
    release.touch()
    wait_until(lambda: status_of(job) == Status.DONE)

    first = lines(job, 1)
    assert first[0] == ("INFO", "tests.tasks.logging", "attempt 1 starts")
    assert first[1][:2] == ("ERROR", "tests.tasks.logging")
    assert first[1][2].startswith("attempt 1 could not find the thing\nTraceback")
    assert "KeyError: 'missing thing'" in first[1][2]
    assert len(first) == 2  # no DEBUG line, and none of the engine's own lines about the failure
    assert lines(job, 2) == [
        ("INFO", "tests.tasks.logging", "attempt 2 starts"),
        ("WARNING", "tests.tasks.logging", "attempt 2 recovered"),
    ]
    attempts = list(Attempt.objects.filter(job=job).values_list("number", "outcome", "progress", "progress_message"))
    assert attempts == [
        (1, "failed", 0.5, "halfway through attempt 1"),
        (2, "done", 1.0, "halfway through attempt 2"),
    ]


@pytest.mark.workers
def test_log_lines_over_the_limits_are_cut_and_counted(start_workers) -> None:
    job = services.enqueue_job(spec=JobSpec(task_name="tests.tasks.chatty", args=[20, 80]))
    start_workers("-w", "1", JOBDECK_LOG_MAX_LINES="5", JOBDECK_LOG_MAX_LINE_CHARS="30")

    wait_until(lambda: status_of(job) == Status.DONE)

    kept = lines(job, 1)
    assert [m for _, _, m in kept[:5]] == [f"{n:04d}".ljust(29, "x") + "…" for n in range(5)]
    assert kept[5] == ("WARNING", "jobdeck", "15 more log lines were not kept (limit 5 per attempt)")
    assert len(kept) == 6


def _record(message: str, level: int = logging.INFO) -> logging.LogRecord:
    return logging.LogRecord("app", level, __file__, 1, message, None, None)


def test_buffer_writes_in_order_and_keeps_lines_added_during_a_write(make_job) -> None:
    job = make_job()
    buffer = LogBuffer(job_id=job.pk, attempt=1, limits=Limits(max_lines=10, max_line_chars=100))
    buffer.add(_record("one"))
    assert buffer.write() == 1
    assert buffer.write() == 0  # nothing pending: no query
    buffer.add(_record("two"))
    buffer.add(_record("three", logging.ERROR))
    assert buffer.write(final=True) == 2
    rows = list(JobLog.objects.filter(job=job).values_list("attempt", "level", "message"))
    assert rows == [(1, logging.INFO, "one"), (1, logging.INFO, "two"), (1, logging.ERROR, "three")]


def test_buffer_keeps_lines_when_a_write_fails(make_job, monkeypatch: pytest.MonkeyPatch) -> None:
    job = make_job()
    buffer = LogBuffer(job_id=job.pk, attempt=1, limits=Limits(max_lines=10, max_line_chars=100))
    buffer.add(_record("kept"))

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(JobLog.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        buffer.write()
    monkeypatch.undo()
    assert buffer.write(final=True) == 1
    assert list(JobLog.objects.filter(job=job).values_list("message", flat=True)) == ["kept"]


def test_lines_outside_a_job_are_not_captured(make_job) -> None:
    from jobs.engine import logcapture

    handler = logcapture.AttemptLogHandler()
    handler.handle(_record("not in a job"))
    assert not JobLog.objects.exists()
