"""The fanout's tick in-process, for 500 viewers' worth of open pages: CPU milliseconds a tick takes,
which the machine's load does not change (bench/live.py's latencies follow it).

    .venv/bin/python bench/live_tick.py [--rounds 5]

A fresh SQLite database: 200 "watched" jobs, each with a timeline of ~60 events (cancelled and
retried in turn, as bench/live.py's watched jobs have after a minute), and 3,000 other jobs. The
open pages: 200 jobs lists (four filters, as bench/live.py's, each showing 250 rows and taking new
jobs above its own top) and the 200 watched jobs' pages (operator variant). Each round changes
the 200 watched jobs and 1,000 others and 300 new jobs arrive (about one 0.15 s tick at
bench/live.py's load, times two), then times Tailer.tick() by process CPU time.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the project importable


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["JOBDECK_SQLITE_PATH"] = str(Path(tempfile.mkdtemp()) / "tick.sqlite3")
    os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from dashboard.fanout import Interest, Tailer
    from jobs import listing, services

    noop = "jobs.tasks.noop"
    watched = [j.pk for j in services.enqueue_jobs(specs=[services.JobSpec(task_name=noop, queue="watched")] * 200)]
    for n in range(30):
        change(watched, n)
    others = [j.pk for j in services.enqueue_jobs(specs=[services.JobSpec(task_name=noop)] * 3000)]
    filters = [
        listing.JobFilters(),
        listing.JobFilters(queue="watched"),
        listing.JobFilters(status="queued"),
        listing.JobFilters(task=noop, queue="watched"),
    ]
    rng = random.Random(1)
    views = [(set(rng.sample(others, 250)), filters[n % 4]) for n in range(200)]
    interest = Interest(
        overview=False,
        lists=True,
        watched=tuple(watched),
        overview_wanted=False,
        shown=frozenset().union(*(shown for shown, _ in views)),
        new_for=tuple({(max(shown), f) for shown, f in views}),
        variants=frozenset((job_id, "operate") for job_id in watched),
    )
    tailer = Tailer()
    times = []
    for n in range(args.rounds):
        change(watched, n)
        services.cancel_jobs(ids=rng.sample(others, 1000), actor="bench")
        services.enqueue_jobs(specs=[services.JobSpec(task_name=noop)] * 300)
        started = time.process_time()
        messages = tailer.tick(interest)
        times.append(1000 * (time.process_time() - started))
        rows = sum(len(m.get("rows", [])) for _, m in messages)
        print(f"round {n}: {len(messages)} messages, {rows} rows, {times[-1]:.0f} ms CPU", flush=True)
    print(f"tick CPU ms: median {sorted(times)[len(times) // 2]:.0f}, min {min(times):.0f}")


def change(job_ids: list[int], n: int) -> None:
    from jobs import services

    if n % 2 == 0:
        services.cancel_jobs(ids=job_ids, actor="bench")
    else:
        for job_id in job_ids:
            services.retry_job(job_id=job_id, actor="bench")


if __name__ == "__main__":
    main()
