"""`manage.py prunejobs`: delete finished jobs past their retention now (workers also do it)."""

import argparse
import datetime
from typing import Any

from django.core.management.base import CommandError, CommandParser

from jobs import services
from jobs.exceptions import JobdeckError
from jobs.management.base import JobdeckCommand
from jobs.management.validators import whole_number


def days(value: str) -> datetime.timedelta:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of days") from None
    if not 0 <= number <= 36_500:
        raise argparse.ArgumentTypeError("must be between 0 and 36500 days")
    return datetime.timedelta(days=number)


class Command(JobdeckCommand):
    help = "Delete finished jobs (with their events, attempts and logs) older than their retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=days, help="keep done/cancelled jobs this long (JOBDECK_RETENTION_DAYS)")
        parser.add_argument(
            "--failed-days", type=days, help="keep failed jobs this long (JOBDECK_FAILED_RETENTION_DAYS)"
        )
        parser.add_argument(
            "--batch-size", type=whole_number(1, 100_000), help="jobs per transaction (JOBDECK_PRUNE_BATCH)"
        )
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = services.prune_jobs(
                retention=options["days"],
                failed_retention=options["failed_days"],
                batch_size=options["batch_size"],
                dry_run=bool(options["dry_run"]),
            )
        except JobdeckError as exc:
            raise CommandError(exc.message) from exc
        counts = f"{result.jobs} jobs ({result.events} events, {result.attempts} attempts, {result.logs} log lines)"
        if options["dry_run"]:
            self.stdout.write(f"Would delete {counts}")
        else:
            emptied = f"; {result.job_batches} job batches whose jobs were all gone" if result.job_batches else ""
            self.stdout.write(f"Deleted {counts} in {result.batches} batches{emptied}")
