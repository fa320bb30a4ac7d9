"""`manage.py runworkers`: start huey consumers that claim jobs from the database."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from jobs import options, registry
from jobs.conf import engine_settings, read_setting
from jobs.engine import workers
from jobs.engine.consumer import WORKER_TYPES, WorkerConfig, run
from jobs.exceptions import JobdeckError
from jobs.management.base import JobdeckCommand
from jobs.management.validators import whole_number

if TYPE_CHECKING:
    from jobs.engine.reload import CodeWatcher


def queue_list(value: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(q.strip() for q in value.split(",") if q.strip()))
    if not names or not all(options.is_queue_name(q) for q in names):
        raise argparse.ArgumentTypeError(f"invalid queue list {value!r}: use names like default,emails")
    return names


def worker_name(value: str) -> str:
    try:
        return workers.check_worker_name(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


class Command(JobdeckCommand):
    help = "Run Jobdeck workers (huey consumers claiming jobs from the database)."

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = getattr(settings, "JOBDECK_WORKERS", {})
        parser.add_argument(
            "-q",
            "--queues",
            type=queue_list,
            default=queue_list(defaults.get("queues", "default")),
            help="comma-separated queues to serve (default: %(default)s)",
        )
        parser.add_argument(
            "-w",
            "--workers",
            "--concurrency",
            dest="workers",
            type=whole_number(1, 512),
            default=defaults.get("workers", 2),
            help="worker slots in this process",
        )
        parser.add_argument(
            "-k",
            "--worker-type",
            choices=WORKER_TYPES,
            default=defaults.get("worker_type", "thread"),
            help="thread (I/O-bound), process (CPU-bound; hard timeouts and cancels) or isolated "
            "(a fresh process per job: a crash, leak or changed global never reaches the next job)",
        )
        parser.add_argument(
            "--name",
            type=worker_name,
            default=defaults.get("name"),
            help="this worker's name, unique among live workers (default: host:pid:random)",
        )
        parser.add_argument(
            "--reload",
            action="store_true",
            help="development: restart the workers when code changes (running jobs finish, or are "
            "requeued after the shutdown grace without using an attempt)",
        )
        parser.add_argument(
            "--shutdown-grace",
            type=non_negative,
            default=None,
            help="seconds SIGTERM waits for running jobs before requeueing them",
        )
        parser.add_argument(
            "--max-tasks-per-child",
            type=whole_number(0, 10**9),
            default=None,
            help="process workers: replace a child after this many jobs (0: never; JOBDECK_MAX_TASKS_PER_CHILD)",
        )
        parser.add_argument(
            "--max-memory-per-child",
            type=non_negative,
            default=None,
            metavar="MB",
            help="process workers: replace a child whose RSS passed this many MB after a job "
            "(0: never; JOBDECK_MAX_MEMORY_PER_CHILD)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            engine = engine_settings()
            grace = options["shutdown_grace"]
            max_tasks, max_memory = options["max_tasks_per_child"], options["max_memory_per_child"]
            if options["worker_type"] != "process":
                # A thread cannot give memory back by exiting: recycling is for process workers, and
                # the settings (which may serve both kinds) are ignored here.
                if max_tasks or max_memory:
                    raise CommandError("--max-tasks-per-child and --max-memory-per-child need --worker-type process")
                max_tasks = max_memory = 0
            if max_tasks is None:
                max_tasks = int(read_setting("JOBDECK_MAX_TASKS_PER_CHILD", 0))
            if max_memory is None:
                max_memory = read_setting("JOBDECK_MAX_MEMORY_PER_CHILD", 0)
            config = WorkerConfig(
                queues=options["queues"],
                concurrency=options["workers"],
                worker_type=options["worker_type"],
                shutdown_grace=engine.shutdown_grace_seconds if grace is None else grace,
                max_tasks_per_child=max_tasks or None,
                max_memory_per_child=max_memory or None,
                name=options["name"],
            )
            watcher = watch_code() if options["reload"] else None
            registry.all_tasks()  # import every task module before forking workers
            run(config, watcher=watcher)
            if watcher is not None and watcher.changed.is_set():
                sys.exit(watcher.RELOAD_EXIT_CODE)  # the supervisor starts the workers again
        except (JobdeckError, ValueError) as exc:
            raise CommandError(str(exc)) from exc


def watch_code() -> CodeWatcher:
    """--reload. In the command you started: supervise the workers' process and exit with its last
    status (never returns). In that process: a started CodeWatcher, once the task modules import."""
    from jobs.engine import reload  # only here: plain workers never load the autoreloader

    if not reload.is_reloading_child():
        sys.exit(reload.supervise())
    watcher = reload.CodeWatcher()
    watcher.start()
    if not watcher.import_or_wait(registry.all_tasks):
        sys.exit(reload.RELOAD_EXIT_CODE)
    return watcher
