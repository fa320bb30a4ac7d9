"""Per-task figures: throughput, success and failure, run and wait percentiles, retries, the newest
errors grouped, schedules, versions and the live workers that have the task.

Every figure comes from one bounded read, whatever the size of the job table: the newest SAMPLE
jobs of the task, a range of job_task_id_idx (task_name, -id). At high volume the figures
therefore describe the newest SAMPLE jobs, and say from when (`covered_from`); a throughput window
reaching back before that is marked incomplete rather than guessed. Schedules and live workers are
small tables, read whole. Figures are reused for CACHE_SECONDS per web process, as the overview
reuses its percentiles, so a page polled by many viewers costs one read a second per task.
"""

from __future__ import annotations

import datetime
import math
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import NotSupportedError
from django.db.models import F, FloatField, Func, Sum
from django.db.models.functions import Substr
from django.utils import timezone

from jobs import registry
from jobs.error_groups import ERROR_CHARS, normalise, split_error
from jobs.exceptions import TaskNotFound, UnknownTask
from jobs.models import Job, Schedule, TaskOutcomeCounter, WorkerProcess
from jobs.status import FINISHED, Status, attempts_spent
from jobs.task_options import TaskOptions, task_options

SAMPLE = 1_000  # newest jobs of one task behind its page's figures
LIST_SAMPLE = 200  # newest jobs of each task behind the all-tasks page (one read per task)
WINDOWS_MINUTES = (1, 5, 15, 60)  # throughput windows
PERCENTILES = (50, 95, 99)
MAX_ERROR_GROUPS = 20
CACHE_SECONDS = 1.0
CACHE_ENTRIES = 256  # task names kept; a full cache starts afresh (names come from a bounded set)
OTHER = "other"  # the /metrics label of a job whose task no registry or live worker has


class Seconds(Func):
    """A datetime column as seconds since 1970 (a float), or the seconds from `since` to it: computed
    by the database, because turning a thousand rows' datetimes into Python objects costs more than
    the read itself (about 5 ms per column on SQLite)."""

    output_field = FloatField()

    def __init__(self, expression: Any, since: Any = None) -> None:
        super().__init__(*([expression] if since is None else [expression, since]))

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"Seconds is not implemented for {connection.vendor}")

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        parts = [compiler.compile(e) for e in self.source_expressions]
        if len(parts) == 1:
            return f"EXTRACT(EPOCH FROM {parts[0][0]})::float", tuple(parts[0][1])
        (end, p1), (start, p2) = parts
        return f"EXTRACT(EPOCH FROM ({end} - {start}))::float", (*p1, *p2)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, tuple[Any, ...]]:
        # Django stores aware datetimes as UTC text; julianday() reads it with its fraction of a second.
        parts = [compiler.compile(e) for e in self.source_expressions]
        if len(parts) == 1:
            return f"((julianday({parts[0][0]}) - 2440587.5) * 86400.0)", tuple(parts[0][1])
        (end, p1), (start, p2) = parts
        return f"((julianday({end}) - julianday({start})) * 86400.0)", (*p1, *p2)


def percentile(sorted_values: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile of an ascending, non-empty list (the overview's charts use it too)."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Percentiles:
    """p50/p95/p99 in seconds, and how many samples there were."""

    samples: int
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Percentiles | None:
        ordered = sorted(values)
        if not ordered:
            return None
        p50, p95, p99 = (percentile(ordered, p) for p in PERCENTILES)
        return cls(samples=len(ordered), p50=p50, p95=p95, p99=p99)


@dataclass(frozen=True)
class Throughput:
    """Jobs of the task that finished (done or failed) in the last `minutes`."""

    minutes: int
    finished: int
    complete: bool  # False: the window reaches before the sample, so `finished` is a lower bound

    @property
    def per_minute(self) -> float:
        return self.finished / self.minutes


@dataclass(frozen=True)
class ErrorGroup:
    """Errors of the task's sampled jobs sharing a class and a normalised message, newest first."""

    error_class: str
    message: str  # normalised
    example: str  # one real message of the group
    count: int
    last_job_id: int  # the newest job of the group


@dataclass(frozen=True)
class TaskWorker:
    """A live worker as the task page lists it: which versions of the task it has (None: unknown,
    a worker from before workers listed their tasks)."""

    name: str
    host: str
    worker_type: str
    versions: list[str] | None

    @property
    def known(self) -> bool:
        return self.versions is not None


@dataclass
class TaskFigures:
    """What the task page and GET /tasks/{name} show for one task."""

    name: str
    short_name: str
    registered: bool  # this web process's registry has it (else only workers or stored jobs name it)
    doc: str = ""
    queue: str | None = None
    priority: int | None = None
    timeout: float | None = None
    options: TaskOptions | None = None  # every option the task declares (None: not in this process's code)
    sample: int = 0  # jobs read
    sample_limit: int = SAMPLE
    covered_from: datetime.datetime | None = None  # the sample starts here (None: every job was read)
    states: dict[str, int] = field(default_factory=dict)  # of the sampled jobs
    done: int = 0
    failed: int = 0
    retried_jobs: int = 0  # sampled jobs that needed more than one attempt
    extra_attempts: int = 0  # attempts beyond the first, over the sampled jobs
    throughput: list[Throughput] = field(default_factory=list)
    run: Percentiles | None = None  # latest attempt of done and failed jobs
    wait: Percentiles | None = None  # runnable to started
    errors: list[ErrorGroup] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # the registry's and the live workers', sorted
    workers: list[TaskWorker] = field(default_factory=list)  # live workers that have it or may (unknown)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.done / self.finished if self.finished else None

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.finished if self.finished else None


def resolve_task(name: str) -> str:
    """The stored task name `name` means: a registered task by full or short name (a "@version"
    suffix is ignored: the figures cover every version), else a name a live worker lists or a stored
    job carries. Raises TaskNotFound (404), or UnknownTask (400) for a short name several tasks share."""
    name = name.strip().partition("@")[0]
    try:
        return registry.get_task(name).name
    except UnknownTask:
        if name and (name in worker_task_names() or Job.objects.filter(task_name=name).exists()):
            return name
        if sum(1 for t in registry.all_tasks().values() if t.short_name == name) > 1:
            raise
        raise TaskNotFound("Task not found") from None


def worker_task_names() -> set[str]:
    """Task names (without versions) the live workers list. One query of the worker table."""
    return _names_listed(WorkerProcess.objects.alive().filter(tasks__isnull=False).values_list("tasks", flat=True))


def _names_listed(task_lists: Iterable[list[str] | None]) -> set[str]:
    """The task names in workers' task lists ("module.path" or "module.path@version")."""
    return {str(entry).partition("@")[0] for tasks in task_lists for entry in tasks or []}


def known_task_names() -> set[str]:
    """Every task name /metrics labels by name: this process's registry and the live workers' lists;
    a bounded set (code defines it), unlike job rows."""
    return set(registry.all_tasks()) | worker_task_names()


_lock = threading.Lock()
_cache: dict[tuple[str, int], tuple[float, TaskFigures]] = {}
_list_cache: dict[tuple[str, int], tuple[float, list[TaskFigures]]] = {}


def reset() -> None:
    """Forget the cached figures (tests)."""
    with _lock:
        _cache.clear()
        _list_cache.clear()


def task_figures(name: str, *, sample: int = SAMPLE) -> TaskFigures:
    """The figures of task `name` (resolved by resolve_task), from its newest `sample` jobs.
    Raises TaskNotFound. Four queries at most (one when cached)."""
    resolved = resolve_task(name)
    key = (resolved, sample)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    short = resolved.rsplit(".", 1)[-1]
    schedules = list(Schedule.objects.filter(task_name__in=[resolved, short]).order_by("name"))
    figures = _compute(resolved, sample=sample, now=timezone.now(), schedules=schedules, workers=_live_workers())
    with _lock:
        if len(_cache) >= CACHE_ENTRIES:
            _cache.clear()
        _cache[key] = (time.monotonic(), figures)
    return figures


# The order _add_sample unpacks: times as seconds since 1970, durations in seconds (NULL when unset).
SAMPLE_COLUMNS = ("id", "status", "attempt", "interrupted", "created", "ran", "waited", "finished", "error")


WorkerRow = tuple[str, str, str, list[str] | None]  # (name, host, worker_type, tasks) of a live worker


def _live_workers() -> list[WorkerRow]:
    """(name, host, worker_type, tasks) of every live worker, by name. One query."""
    rows = WorkerProcess.objects.alive().order_by("name").values_list("name", "host", "worker_type", "tasks")
    return list(rows)


def _compute(
    name: str, *, sample: int, now: datetime.datetime, schedules: list[Schedule], workers: list[WorkerRow]
) -> TaskFigures:
    """The figures of one resolved task name, given the schedules and live workers to pick its own from.

    1. The registry gives the task's defaults and its declared version (getattr: a plain Django
       Task has none).
    2. One read of the newest `sample` jobs (job_task_id_idx): states, outcomes, retries,
       throughput windows, run and wait times, errors.
    3. Its schedules (by full or short name) and the live workers that list it.
    """
    short = name.rsplit(".", 1)[-1]
    figures = TaskFigures(name=name, short_name=short, registered=False, sample_limit=sample)
    versions: set[str] = set()
    registered = registry.all_tasks().get(name)
    if registered is not None:
        figures.registered, figures.doc = True, registered.doc
        task = registered.task
        figures.queue, figures.priority = task.queue_name, task.priority
        figures.timeout = getattr(task, "timeout", None)
        figures.options = task_options(task)
        version = getattr(task, "version", None)
        if version is not None:
            versions.add(str(version))
    rows = list(
        Job.objects.filter(task_name=name)
        .order_by("-id")
        .annotate(
            created=Seconds(F("created_at")),
            ran=Seconds(F("finished_at"), F("started_at")),
            waited=Seconds(F("started_at"), F("run_at")),
            finished=Seconds(F("finished_at")),
            error=Substr("last_error", 1, ERROR_CHARS),
        )
        .values_list(*SAMPLE_COLUMNS)[:sample]
    )
    _add_sample(figures, rows, now=now)
    figures.schedules = [s for s in schedules if s.task_name in (name, short)]
    figures.workers = _workers(name, versions, workers)
    figures.versions = sorted(versions)
    return figures


def _add_sample(figures: TaskFigures, rows: list[tuple[Any, ...]], *, now: datetime.datetime) -> None:
    """Fold the sampled rows (SAMPLE_COLUMNS, newest first) into `figures`."""
    figures.sample = len(rows)
    if rows and len(rows) >= figures.sample_limit:
        figures.covered_from = datetime.datetime.fromtimestamp(rows[-1][4], tz=datetime.UTC)
    runs, waits, finished_at = [], [], []
    errors: dict[tuple[str, str], ErrorGroup] = {}
    for job_id, status, attempt, interrupted, _created, ran, waited, finished, error in rows:
        figures.states[status] = figures.states.get(status, 0) + 1
        spent = attempts_spent(attempt=attempt, interrupted=interrupted)
        if spent > 1:
            figures.retried_jobs += 1
            figures.extra_attempts += spent - 1
        if status in (Status.DONE, Status.FAILED):
            figures.done += status == Status.DONE
            figures.failed += status == Status.FAILED
            if finished is not None:
                finished_at.append(finished)
            if ran is not None:
                runs.append(max(0.0, ran))
        # run_at and started_at describe the same attempt only while running or ended (a retrying
        # job has moved run_at on), as in jobs.selectors.wait_samples.
        if status in (Status.RUNNING, Status.DONE, Status.FAILED) and waited is not None:
            waits.append(max(0.0, waited))
        # Errors of failed jobs and of jobs still retrying; a cancelled job's last error is history.
        if error and (status == Status.FAILED or status not in FINISHED):
            _add_error(errors, error, job_id)
    figures.run, figures.wait = Percentiles.of(runs), Percentiles.of(waits)
    for minutes in WINDOWS_MINUTES:
        since = now - datetime.timedelta(minutes=minutes)
        count = sum(1 for t in finished_at if t >= since.timestamp())
        complete = figures.covered_from is None or figures.covered_from <= since
        figures.throughput.append(Throughput(minutes=minutes, finished=count, complete=complete))
    figures.errors = sorted(errors.values(), key=lambda g: g.last_job_id, reverse=True)[:MAX_ERROR_GROUPS]


def _add_error(errors: dict[tuple[str, str], ErrorGroup], error: str, job_id: int) -> None:
    error_class, message = split_error(error)
    key = (error_class, normalise(message))
    group = errors.get(key)
    if group is None:  # rows come newest first: the first one seen is the group's newest
        errors[key] = ErrorGroup(error_class, key[1], message, 1, job_id)
    else:
        errors[key] = ErrorGroup(error_class, key[1], group.example, group.count + 1, group.last_job_id)


def _workers(name: str, versions: set[str], workers: list[WorkerRow]) -> list[TaskWorker]:
    """Of `workers`, those that list task `name` (with the versions they have, added to
    `versions`), then those that list no tasks at all (unknown)."""
    having, unknown = [], []
    for worker, host, worker_type, tasks in workers:
        if tasks is None:
            unknown.append(TaskWorker(worker, host, worker_type, None))
            continue
        found = sorted({str(entry).partition("@")[2] for entry in tasks if str(entry).partition("@")[0] == name})
        if found:
            versions.update(v for v in found if v)
            having.append(TaskWorker(worker, host, worker_type, [v for v in found if v]))
    return having + unknown


def task_list(*, sample: int = LIST_SAMPLE) -> list[TaskFigures]:
    """Figures of every registered task and every task a live worker lists, by name, each from its
    newest `sample` jobs: one read per task, plus one of the schedules and one of the workers.
    Reused for CACHE_SECONDS like task_figures()."""
    key = ("", sample)  # no task is named ""
    with _lock:
        hit = _list_cache.get(key)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    now = timezone.now()
    workers = _live_workers()
    names = set(registry.all_tasks()) | _names_listed(tasks for *_, tasks in workers)
    schedules = list(Schedule.objects.order_by("name"))
    figures = [_compute(name, sample=sample, now=now, schedules=schedules, workers=workers) for name in sorted(names)]
    with _lock:
        _list_cache[key] = (time.monotonic(), figures)
    return figures


def task_outcome_totals() -> dict[tuple[str, str], int]:
    """Attempts ended so far by (task, new status), summed over every worker process that ever ran
    (TaskOutcomeCounter), with tasks outside known_task_names() summed under OTHER: the /metrics
    `task` label stays a bounded set whatever the job rows say."""
    known = known_task_names()
    totals: dict[tuple[str, str], int] = {}
    rows = TaskOutcomeCounter.objects.values_list("task", "new_status").annotate(total=Sum("count")).order_by()
    for task, new_status, total in rows:
        key = (task if task in known else OTHER, new_status)
        totals[key] = totals.get(key, 0) + int(total)
    return totals
