"""`manage.py jobs`: list jobs newest first as a plain-text table, with filters and keyset paging."""

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from jobs import listing
from jobs.exceptions import InvalidSearch
from jobs.management.base import JobdeckCommand
from jobs.management.validators import whole_number
from jobs.models import PRIORITY_MAX, PRIORITY_MIN
from jobs.status import Status

COLUMNS = ("ID", "TASK", "QUEUE", "STATUS", "ATTEMPTS", "AGE")


def status(value: str) -> str:
    if value not in Status.values:
        raise argparse.ArgumentTypeError(f"{value!r} is not a status: use one of {', '.join(Status.values)}")
    return value


def humanise_age(seconds: float) -> str:
    """A duration in its largest whole unit: 3s, 5m, 2h, 4d (negative clock skew shows as 0s)."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()) -> str:
    """Columns as wide as their widest cell, two spaces apart; columns in `right` are right-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


SHOWN_FIELDS = ("id", "task_name", "queue", "status", "attempt", "interrupted", "max_attempts", "created_at")


class Command(JobdeckCommand):
    help = "List jobs newest first (id, task, queue, status, attempts, age)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--status", type=status, help=f"only jobs in this state ({', '.join(Status.values)})")
        parser.add_argument("--queue", help="only jobs on this queue")
        parser.add_argument(
            "--task", help="only jobs of this task (as enqueue takes it: jobs.tasks.echo or echo; or a stored name)"
        )
        parser.add_argument(
            "--search",
            metavar="TEXT",
            help="a job id (123), payload.<key>:<value>, or text in the task name, error, payload or arguments "
            "of the newest JOBDECK_SEARCH_WINDOW jobs",
        )
        parser.add_argument(
            "--priority", type=whole_number(PRIORITY_MIN, PRIORITY_MAX), help="only jobs of this priority"
        )
        parser.add_argument("--worker", help="only jobs whose latest attempt this worker ran (or runs)")
        parser.add_argument("--limit", type=whole_number(1, 1000), default=20, help="rows to show (default: 20)")
        parser.add_argument(
            "--before-id", type=whole_number(1, sys.maxsize), metavar="ID", help="only jobs older than this id"
        )

    def handle(self, *args: object, **options: Any) -> None:
        limit = options["limit"]
        # One row more than shown tells whether an older page exists.
        try:
            filters = listing.JobFilters(
                status=options["status"] or "",
                queue=options["queue"] or "",
                task=listing.resolve_task_filter(options["task"] or ""),
                priority=options["priority"],
                worker=options["worker"] or "",
                **listing.parse_search(options["search"] or ""),
            )
        except InvalidSearch as exc:
            raise CommandError(exc.message) from None
        # Only the columns shown: a job's args, payload and result may be large.
        jobs = listing.list_jobs(filters, before_id=options["before_id"], limit=limit + 1, fields=SHOWN_FIELDS)
        if not jobs:
            self.stdout.write("No jobs.")
            return
        now = timezone.now()
        rows = [
            (
                str(job.pk),
                job.task_name,
                job.queue,
                job.status,
                f"{job.attempts_spent}/{job.max_attempts}",
                humanise_age((now - job.created_at).total_seconds()),
            )
            for job in jobs[:limit]
        ]
        self.stdout.write(render_table(COLUMNS, rows, right=frozenset({0, 4, 5})))
        if len(jobs) > limit:
            self.stdout.write(f"More: --before-id {jobs[limit - 1].pk}")
