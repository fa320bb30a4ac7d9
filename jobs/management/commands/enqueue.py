"""`manage.py enqueue`: store one job from the command line, through services.enqueue_job."""

import argparse
import datetime
import json
import math
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import dateparse, timezone

from jobs import options, registry, retry, services
from jobs.exceptions import JobdeckError
from jobs.management.base import JobdeckCommand
from jobs.management.validators import priority, whole_number
from jobs.models import PRIORITY_MAX, PRIORITY_MIN
from jobs.status import AFTER_FAILURE_MODES, Status


def json_value(kind: type, description: str) -> Callable[[str], Any]:
    """A validator for JSON text that must decode to `kind` (dict: an object, list: a list)."""

    def parse(value: str) -> Any:
        try:
            decoded = json.loads(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
        if not isinstance(decoded, kind):
            raise argparse.ArgumentTypeError(f"must be {description}")
        return decoded

    return parse


def aware_datetime(value: str) -> datetime.datetime:
    try:
        moment = dateparse.parse_datetime(value)
    except ValueError:  # well formed but impossible, e.g. month 13
        moment = None
    if moment is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 date-time, e.g. 2026-01-01T09:00:00+00:00")
    if timezone.is_naive(moment):
        raise argparse.ArgumentTypeError("needs a timezone, e.g. 2026-01-01T09:00:00+00:00")
    return moment


def job_ids(value: str) -> tuple[int, ...]:
    """--after: comma-separated job ids, e.g. "12,15"."""
    try:
        ids = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated job ids, got '{value}'") from None
    if not ids or min(ids) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated job ids, got '{value}'")
    return ids


def seconds(*, allow_zero: bool) -> Callable[[str], float]:
    """A validator for a finite number of seconds, > 0 (or >= 0 with allow_zero)."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
        if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
            raise argparse.ArgumentTypeError(
                "must be 0 or more seconds" if allow_zero else "must be more than 0 seconds"
            )
        return number

    return parse


def backoff_text(value: str) -> dict[str, Any]:
    """`kind[:base[:cap[:jitter]]]`, e.g. `linear:10:600:0.2`."""
    try:
        return retry.parse_backoff_text(value).as_json()
    except ValueError:
        raise argparse.ArgumentTypeError(
            "must be kind[:base[:cap[:jitter]]], kind exponential, linear or constant, e.g. linear:10:600:0.2"
        ) from None


def exception_name(value: str) -> str:
    try:
        return retry.class_names([value], field="exception")[0]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a dotted exception class name") from None


class Command(JobdeckCommand):
    help = 'Enqueue one job: manage.py enqueue jobs.tasks.echo --payload \'{"message": "hi"}\''

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "task",
            help="task path (jobs.tasks.echo) or its short name when unambiguous (echo), optionally with the "
            "version to run (jobs.tasks.echo@2; default: the task's version in this code)",
        )
        parser.add_argument(
            "--payload", type=json_value(dict, "a JSON object"), default={}, help="keyword arguments, a JSON object"
        )
        parser.add_argument(
            "--args",
            dest="task_args",  # BaseCommand.run_from_argv pops an "args" option
            type=json_value(list, "a JSON list"),
            default=[],
            help="positional arguments, a JSON list",
        )
        parser.add_argument("--queue", help="queue name (default: the task's)")
        parser.add_argument(
            "--priority",
            type=priority,
            help=f"{PRIORITY_MIN}..{PRIORITY_MAX} or high (10), medium (0), low (-10); higher runs first "
            "(default: the task's)",
        )
        when = parser.add_mutually_exclusive_group()
        when.add_argument(
            "--delay", type=seconds(allow_zero=True), help="run no sooner than this many seconds from now"
        )
        when.add_argument("--run-at", type=aware_datetime, help="run no sooner than this ISO 8601 time (with timezone)")
        parser.add_argument(
            "--max-attempts",
            type=whole_number(1, options.MAX_ATTEMPTS_LIMIT),
            help="executions allowed, retries included (default: the task's or JOBDECK_DEFAULT_MAX_ATTEMPTS)",
        )
        parser.add_argument(
            "--backoff",
            type=backoff_text,
            help="wait before a retry: kind[:base[:cap[:jitter]]], e.g. linear:10:600:0.2 (default: the task's, "
            "the queue's, else exponential from the settings)",
        )
        parser.add_argument(
            "--retry-on",
            type=exception_name,
            action="append",
            help="dotted exception class worth retrying (repeat for more); any other error fails at once",
        )
        parser.add_argument(
            "--discard-on",
            type=exception_name,
            action="append",
            help="dotted exception class that fails the job at once, no retry (repeat for more)",
        )
        parser.add_argument(
            "--max-snoozes",
            type=whole_number(0, options.MAX_SNOOZES_LIMIT),
            help="times the job may snooze (default: the task's or JOBDECK_MAX_SNOOZES)",
        )
        parser.add_argument("--timeout", type=seconds(allow_zero=False), help="seconds one attempt may run")
        parser.add_argument("--idempotency-key", help="while a job with this key is unfinished, return it instead")
        parser.add_argument(
            "--unique-for",
            type=seconds(allow_zero=False),
            help="seconds the key keeps answering with the job after it finished (without --idempotency-key, "
            "a key made from the task and its arguments)",
        )
        deadline = parser.add_mutually_exclusive_group()
        deadline.add_argument(
            "--expires-at", type=aware_datetime, help="not started by this ISO 8601 time, the job ends expired"
        )
        deadline.add_argument(
            "--expires-in", type=seconds(allow_zero=False), help="not started this many seconds after its run time"
        )

        parser.add_argument(
            "--concurrency-key", help="at most --concurrency-limit jobs with this key run at once (e.g. customer:42)"
        )
        parser.add_argument(
            "--concurrency-limit",
            type=whole_number(1, options.CONCURRENCY_LIMIT_MAX),
            help="jobs with the key running at once (default 1)",
        )
        parser.add_argument(
            "--on-conflict",
            choices=services.ON_CONFLICT_CHOICES,
            help="while a job with the same --concurrency-key waits or runs: drop this one (the existing job "
            "is reported) or replace the waiting ones",
        )
        parser.add_argument(
            "--after",
            type=job_ids,
            default=(),
            help="comma-separated ids of jobs this one waits for, e.g. 12,15: it runs when all are done",
        )
        parser.add_argument(
            "--after-failure",
            choices=list(AFTER_FAILURE_MODES),
            default="cancel",
            help="when a job in --after fails for good or is cancelled: cancel this one (default), run it anyway, "
            "or run it only then (only)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        spec = services.JobSpec(
            task_name=options["task"],
            args=options["task_args"],
            kwargs=options["payload"],
            queue=options["queue"],
            priority=options["priority"],
            max_attempts=options["max_attempts"],
            backoff=options["backoff"],
            retry_on=options["retry_on"],
            discard_on=options["discard_on"],
            max_snoozes=options["max_snoozes"],
            run_at=options["run_at"],
            delay=options["delay"],
            idempotency_key=options["idempotency_key"],
            unique_for=options["unique_for"],
            expires_at=options["expires_at"],
            expires_in=options["expires_in"],
            concurrency_key=options["concurrency_key"],
            concurrency_limit=options["concurrency_limit"],
            timeout=options["timeout"],
            after=options["after"],
            after_failure=options["after_failure"],
            on_conflict=options["on_conflict"],
        )
        try:
            job, created = services.enqueue_job_outcome(spec=spec, actor="cli")
        except JobdeckError as exc:
            raise CommandError(exc.message) from exc
        if not created and spec.on_conflict == "drop":
            state = f"already {job.status} with key {job.concurrency_key}: nothing enqueued"
        elif job.pending_parents:
            state = f"waiting for {job.pending_parents} of {len(options['after'])} jobs"
        elif job.status == Status.SCHEDULED:
            state = f"scheduled for {job.run_at.astimezone(datetime.UTC).isoformat()}"
        elif job.status == Status.QUEUED:
            state = "queued"
        else:  # a job already holding the idempotency key (unfinished, or within its unique_for)
            state = f"is {job.status}"
        self.stdout.write(f"Job {job.pk} {state} ({registry.task_ref(job.task_name, job.task_version)} on {job.queue})")
