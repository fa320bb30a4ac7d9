"""`manage.py jobs`: list jobs newest first as a plain-text table, with filters and keyset paging."""

import argparse
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from jobs import listing
from jobs.exceptions import InvalidSearch
from jobs.management.base import JobdeckCommand
from jobs.management.tables import humanise_age, render_table
from jobs.management.validators import priority, whole_number
from jobs.status import Status

COLUMNS = ("ID", "TASK", "QUEUE", "STATUS", "ATTEMPTS", "AGE")


def status(value: str) -> str:
    if value not in Status.values:
        raise argparse.ArgumentTypeError(f"{value!r} is not a status: use one of {', '.join(Status.values)}")
    return value


SHOWN_FIELDS = ("id", "task_name", "queue", "status", "attempt", "interrupted", "snoozes", "max_attempts", "created_at")


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
            "--priority", type=priority, help="only jobs of this priority (a number, or high, medium, low)"
        )
        parser.add_argument("--worker", help="only jobs whose latest attempt this worker ran (or runs)")
        parser.add_argument("--limit", type=whole_number(1, 1000), default=20, help="rows to show (default: 20)")
        parser.add_argument(
            "--before-id", type=whole_number(1, sys.maxsize), metavar="ID", help="only jobs older than this id"
        )

    def handle(self, *args: Any, **options: Any) -> None:
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
