"""GET /tasks/{name}: one task's figures (jobs.task_stats), as the task page shows them."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from ninja import Field, Schema

from jobs import task_stats
from jobs.api.schemas.common import WorkerType
from jobs.task_options import TaskOptions

# A task's module path or short name, optionally with "@version" (the figures cover every version).
TASK_REF_PATTERN = r"^[A-Za-z0-9_.]{1,255}(@[A-Za-z0-9_.\-]{1,64})?$"


class PercentilesOut(Schema):
    samples: int
    p50: float
    p95: float
    p99: float


class ThroughputOut(Schema):
    minutes: int
    finished: int  # done or failed in the last `minutes`
    per_minute: float
    complete: bool  # false: the window reaches before the sample, `finished` is a lower bound


class ErrorGroupOut(Schema):
    error_class: str
    message: str  # normalised: numbers, hex values and uuids replaced
    example: str
    count: int
    last_job_id: int


class TaskScheduleOut(Schema):
    id: int
    name: str
    cron: str
    timezone: str
    enabled: bool
    next_run_at: datetime.datetime | None


class TaskWorkerOut(Schema):
    name: str
    host: str
    worker_type: WorkerType
    versions: list[str] | None  # null: a worker that does not list its tasks (unknown)


class TaskOptionsOut(Schema):
    """Every option the task declares with @task; null (or empty) where the job, the queue or the
    settings decide."""

    version: str | None
    queue: str
    priority: int
    max_attempts: int | None = Field(description="null: JOBDECK_DEFAULT_MAX_ATTEMPTS")
    timeout: float | None = Field(description="seconds per attempt; null: no limit")
    backoff: dict[str, Any] | None = Field(
        description='{"kind", "base", "cap", "jitter"}; null: the queue\'s, the settings\''
    )
    retry_on: list[str]
    discard_on: list[str]
    max_snoozes: int | None = Field(description="null: JOBDECK_MAX_SNOOZES")
    hooks: dict[str, list[str]] = Field(description="the task's own hooks by kind (on_success, ...), as dotted names")
    unique_for: float | None = Field(description="seconds")
    expires_in: float | None = Field(description="seconds")

    @classmethod
    def from_options(cls, o: TaskOptions | None) -> TaskOptionsOut | None:
        return None if o is None else cls(**dataclasses.asdict(o))


class TaskDetailOut(Schema):
    name: str
    short_name: str
    registered: bool
    docstring: str
    queue: str | None
    priority: int | None
    timeout: float | None
    options: TaskOptionsOut | None  # null: this server does not have the task's code
    sample: int  # jobs the figures come from (the task's newest)
    sample_limit: int
    covered_from: datetime.datetime | None  # the sample starts here; null: every job of the task was read
    states: dict[str, int]
    done: int
    failed: int
    success_rate: float | None
    failure_rate: float | None
    retried_jobs: int
    extra_attempts: int
    throughput: list[ThroughputOut]
    run_seconds: PercentilesOut | None
    wait_seconds: PercentilesOut | None
    errors: list[ErrorGroupOut]
    schedules: list[TaskScheduleOut]
    versions: list[str]
    workers: list[TaskWorkerOut]

    @classmethod
    def from_figures(cls, f: task_stats.TaskFigures) -> TaskDetailOut:
        def pct(p: task_stats.Percentiles | None) -> PercentilesOut | None:
            return None if p is None else PercentilesOut(samples=p.samples, p50=p.p50, p95=p.p95, p99=p.p99)

        return cls(
            name=f.name,
            short_name=f.short_name,
            registered=f.registered,
            docstring=f.doc,
            queue=f.queue,
            priority=f.priority,
            timeout=f.timeout,
            options=TaskOptionsOut.from_options(f.options),
            sample=f.sample,
            sample_limit=f.sample_limit,
            covered_from=f.covered_from,
            states=f.states,
            done=f.done,
            failed=f.failed,
            success_rate=f.success_rate,
            failure_rate=f.failure_rate,
            retried_jobs=f.retried_jobs,
            extra_attempts=f.extra_attempts,
            throughput=[
                ThroughputOut(minutes=t.minutes, finished=t.finished, per_minute=t.per_minute, complete=t.complete)
                for t in f.throughput
            ],
            run_seconds=pct(f.run),
            wait_seconds=pct(f.wait),
            errors=[
                ErrorGroupOut(
                    error_class=e.error_class,
                    message=e.message,
                    example=e.example,
                    count=e.count,
                    last_job_id=e.last_job_id,
                )
                for e in f.errors
            ],
            schedules=[
                TaskScheduleOut(
                    id=s.pk, name=s.name, cron=s.cron, timezone=s.timezone, enabled=s.enabled, next_run_at=s.next_run_at
                )
                for s in f.schedules
            ],
            versions=f.versions,
            workers=[
                TaskWorkerOut(name=w.name, host=w.host, worker_type=WorkerType(w.worker_type), versions=w.versions)
                for w in f.workers
            ],
        )
