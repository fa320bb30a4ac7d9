"""`manage.py demoload`: enqueue a steady, mixed stream of the demo tasks so a fresh install looks alive."""

import argparse
import math
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError, CommandParser

from jobs import services
from jobs.exceptions import JobdeckError
from jobs.management.base import JobdeckCommand
from jobs.management.validators import whole_number

# Relative weights of the demo tasks in the mix (noop is left to the benchmarks).
WEIGHTS = {"echo": 30, "sleep": 20, "flaky": 15, "primes": 15, "thumbnail": 15, "always_fail": 5}
MESSAGES = ("hello", "invoice ready", "welcome email", "report generated", "cache warmed", "webhook delivered")
THUMBNAIL_SEEDS = 500  # seeds repeat, so var/thumbnails/ holds at most this many files


def positive_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise argparse.ArgumentTypeError("must be a number greater than 0")
    return number


def random_spec(rng: random.Random) -> services.JobSpec:
    """One demo job: realistic arguments, sometimes delayed 5-30 s, sometimes prioritised."""
    name = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    makers: dict[str, Callable[[], dict[str, object]]] = {
        "echo": lambda: {"message": f"{rng.choice(MESSAGES)} #{rng.randrange(10_000)}"},
        "sleep": lambda: {"seconds": round(rng.uniform(1, 6), 1), "steps": rng.randint(2, 10)},
        "flaky": lambda: {"failure_rate": 0.3},
        "primes": lambda: {"limit": rng.randint(50_000, 500_000)},
        "thumbnail": lambda: {"seed": rng.randrange(THUMBNAIL_SEEDS)},
        "always_fail": lambda: {},
    }
    kwargs = makers[name]()
    return services.JobSpec(
        task_name=f"jobs.tasks.{name}",
        kwargs=kwargs,
        queue="media" if name == "thumbnail" else "default",
        priority=rng.choice((5, 10)) if rng.random() < 0.2 else None,
        max_attempts=2 if name == "always_fail" else None,
        delay=round(rng.uniform(5, 30), 1) if rng.random() < 0.15 else None,
    )


class Command(JobdeckCommand):
    help = "Enqueue a steady mix of the demo tasks (echo, sleep, flaky, primes, thumbnail, always_fail)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rate", type=positive_number, default=2.0, help="jobs per second (default: 2)")
        parser.add_argument(
            "--interval", type=positive_number, default=1.0, help="seconds between batches (default: 1)"
        )
        group = parser.add_mutually_exclusive_group()
        group.add_argument(
            "--duration",
            type=positive_number,
            default=None,
            help="stop after this many seconds (default: until Ctrl-C or SIGTERM)",
        )
        group.add_argument(
            "--burst",
            type=whole_number(1, services.MAX_BULK),
            default=None,
            metavar="N",
            help="enqueue N jobs at once, then exit",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rng = random.Random()  # noqa: S311 - demo randomness
        counts: Counter[str] = Counter()
        started = time.monotonic()
        try:
            if options["burst"] is not None:
                self.enqueue(rng, options["burst"], counts)
            else:
                self.run_steady(rng, counts, **options)
        except JobdeckError as exc:
            raise CommandError(str(exc)) from exc
        mix = ", ".join(f"{name} {n}" for name, n in counts.most_common())
        self.stdout.write(f"demoload: enqueued {counts.total()} jobs in {time.monotonic() - started:.1f} s ({mix})")

    def enqueue(self, rng: random.Random, n: int, counts: Counter[str]) -> None:
        specs = [random_spec(rng) for _ in range(n)]
        services.enqueue_jobs(specs=specs, actor="demoload")  # one transaction per batch
        counts.update(spec.task_name.rsplit(".", 1)[-1] for spec in specs)

    def run_steady(
        self,
        rng: random.Random,
        counts: Counter[str],
        *,
        rate: float,
        interval: float,
        duration: float | None,
        **_: object,
    ) -> None:
        stop = threading.Event()
        previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
        self.stdout.write(f"demoload: about {rate:g} jobs/s in batches every {interval:g} s; Ctrl-C to stop")
        deadline = math.inf if duration is None else time.monotonic() + duration
        owed, next_batch = 0.0, time.monotonic()
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                owed += rate * interval  # carry fractions so the average rate is exact
                if batch := int(owed):
                    self.enqueue(rng, min(batch, services.MAX_BULK), counts)
                    owed -= batch
                next_batch += interval
                stop.wait(max(0.0, min(next_batch, deadline) - time.monotonic()))
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
