"""Jobdeck measured on one database: enqueue rates, drain rate, idle pick-up latency, worker memory and CPU.

    python -m bench.jobdeck_side --db sqlite|postgres --workdir DIR --out FILE   (run.py does this)

The database is created fresh (a SQLite file in DIR, or the PostgreSQL database named in
--pg-url, dropped and created) and migrated. Django runs in this process with the same
environment as the `manage.py runworkers` processes it starts, so enqueueing goes through
jobs.services exactly as an application's would.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import procs

NOOP = "jobs.tasks.noop"
BATCH = 1000

# Worker set-ups: one runworkers process per argument list.
VARIANTS: dict[str, list[list[str]]] = {
    "process-2": [["-w", "2", "--worker-type", "process"]],
    "thread-2": [["-w", "2", "--worker-type", "thread"]],
    "2 x process-1": [["-w", "1", "--worker-type", "process"]] * 2,
    # A fresh process per job: what the isolation costs beside the pooled types above.
    "isolated-2": [["-w", "2", "--worker-type", "isolated"]],
    # process-2 again, every job with a concurrency key (issue 13): 100 keys, one running per key.
    # Its drain is compared with process-2's in the same run (report: "keyed drain / plain drain").
    "keyed-100 process-2": [["-w", "2", "--worker-type", "process"]],
}
PRIMARY = "process-2"
KEYED = {"keyed-100 process-2": 100}  # variant: number of concurrency keys, limit 1 each


def drain_specs(variant: str, start: int, count: int) -> list:
    """The queued no-ops of one enqueue batch: plain, or spread round-robin over the variant's keys."""
    from jobs.services import JobSpec

    keys = KEYED.get(variant)
    if keys is None:
        return [JobSpec(task_name=NOOP)] * count
    return [JobSpec(task_name=NOOP, concurrency_key=f"customer:{(start + i) % keys}") for i in range(count)]


# --- the database and Django ---------------------------------------------------------------------


def recreate_postgres(url: str, *, create: bool = True) -> None:
    """Drop (and create again) the database named in `url`, working from the `postgres` database."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("bench"):  # never drop a database the benchmark did not make
        raise SystemExit(f"refusing to drop {name!r}: the benchmark database's name must start with 'bench'")
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def configure(db: str, workdir: Path, pg_url: str) -> dict[str, str]:
    """Set this process's environment for `db` and return it (the workers get the same)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["JOBDECK_VAR_DIR"] = str(workdir)
    os.environ.pop("DATABASE_URL", None)
    if db == "postgres":
        recreate_postgres(pg_url)
        os.environ["DATABASE_URL"] = pg_url
    else:
        os.environ["JOBDECK_SQLITE_PATH"] = str(workdir / "jobdeck.sqlite3")
    return dict(os.environ)


def setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def reset_tables() -> None:
    """Empty the job tables between phases, so each starts from the same state."""
    from django.db import connection

    from jobs.models import (
        Attempt,
        Batch,
        Job,
        JobDependency,
        JobEvent,
        JobLog,
        OutcomeCounter,
        ScheduleRun,
        WorkerProcess,
    )

    models = (JobEvent, Attempt, JobLog, ScheduleRun, JobDependency, Job, Batch, WorkerProcess, OutcomeCounter)
    tables = [m._meta.db_table for m in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)}")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


def db_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version" if connection.vendor == "postgresql" else "SELECT sqlite_version()")
        return cursor.fetchone()[0].split()[0]


def status_count(status: str) -> int:
    from jobs.models import Job

    return Job.objects.filter(status=status).count()


# --- enqueueing ----------------------------------------------------------------------------------


def enqueue_one_by_one(n: int) -> float:
    """n calls to services.enqueue_job, each its own transaction. Returns jobs per second."""
    from jobs.services import JobSpec, enqueue_job

    t0 = time.perf_counter()
    for _ in range(n):
        enqueue_job(spec=JobSpec(task_name=NOOP))
    return n / (time.perf_counter() - t0)


def enqueue_bulk(n: int) -> float:
    """n jobs through services.enqueue_jobs in batches of BATCH. Returns jobs per second."""
    from jobs.services import JobSpec, enqueue_jobs

    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        enqueue_jobs(specs=[JobSpec(task_name=NOOP)] * min(BATCH, n - start))
    return n / (time.perf_counter() - t0)


def enqueue_batch(n: int) -> float:
    """One batch of n members and three callbacks through services.enqueue_batch (issue 13): one
    transaction, the callbacks' links written by one INSERT ... SELECT each. Returns jobs per second
    (members and callbacks)."""
    from jobs.services import JobSpec, enqueue_batch

    callback = JobSpec(task_name=NOOP)
    t0 = time.perf_counter()
    enqueue_batch(specs=[JobSpec(task_name=NOOP)] * n, on_success=callback, on_complete=callback, on_failure=callback)
    return (n + 3) / (time.perf_counter() - t0)


# --- one worker set-up ---------------------------------------------------------------------------


def start_workers(variant: str, env: dict[str, str], workdir: Path) -> list:
    slug = variant.replace(" ", "")
    return [
        procs.start(
            [sys.executable, "manage.py", "runworkers", *args], env=env, log_path=workdir / f"runworkers-{slug}-{i}.log"
        )
        for i, args in enumerate(VARIANTS[variant])
    ]


def drain_figures(n: int) -> dict:
    """Rate from the job rows themselves: first claim to last finish, and proof each ran once."""
    from django.db.models import Count, Max, Min, Sum

    from jobs.models import Attempt, Job

    agg = Job.objects.filter(status="done").aggregate(
        jobs=Count("id"), first=Min("started_at"), last=Max("finished_at"), attempts=Sum("attempt")
    )
    if agg["jobs"] != n:
        counts = dict(Job.objects.values_list("status").annotate(Count("id")))
        raise RuntimeError(f"the drain did not complete: job counts by status {counts}")
    span = (agg["last"] - agg["first"]).total_seconds()
    return {
        "jobs": agg["jobs"],
        "seconds": round(span, 3),
        "jobs_per_s": round(agg["jobs"] / span, 1),
        "start": agg["first"].timestamp(),
        "end": agg["last"].timestamp(),
        "exactly_once": agg["jobs"] == n and agg["attempts"] == n and Attempt.objects.count() == n,
    }


def drain(n: int, pids: list[int], timeout: float) -> dict:
    cpu0, busy0 = procs.tree_cpu_seconds(pids), procs.machine_busy_seconds()
    procs.wait_until(
        lambda: status_count("done") >= n or status_count("failed") > 0,
        timeout=timeout,
        interval=0.1,
        what="the workers to drain the queue",
    )
    cpu1, busy1 = procs.tree_cpu_seconds(pids), procs.machine_busy_seconds()
    figures = drain_figures(n)
    figures["worker_cpu_ms_per_job"] = round((cpu1 - cpu0) * 1000 / n, 3)
    figures["machine_busy"] = round((busy1[0] - busy0[0]) / (busy1[1] - busy0[1]), 3)
    return figures


def idle_cpu_percent(pids: list[int], seconds: float) -> float:
    """CPU used by the idle worker trees over `seconds`, as a percentage of one core."""
    cpu0 = procs.tree_cpu_seconds(pids)
    time.sleep(seconds)
    return round((procs.tree_cpu_seconds(pids) - cpu0) * 100 / seconds, 2)


def pickup_latencies(count: int, gap: float) -> dict:
    """Enqueue `count` jobs `gap` seconds apart to idle workers; latency = started_at - created_at.

    Also reports how long the enqueue_job() calls took: created_at is stamped at the start of
    the call, so the time to commit the job is part of its pick-up latency.
    """
    from jobs.models import Job
    from jobs.services import JobSpec, enqueue_job

    start = time.perf_counter()
    ids, calls = [], []
    for i in range(count):
        time.sleep(max(0.0, start + i * gap - time.perf_counter()))
        t0 = time.perf_counter()
        ids.append(enqueue_job(spec=JobSpec(task_name=NOOP)).pk)
        calls.append(time.perf_counter() - t0)
    done = Job.objects.filter(pk__in=ids, status="done")
    procs.wait_until(lambda: done.count() == count, timeout=60, what="the latency jobs")
    waits = [(s - c).total_seconds() for s, c in done.values_list("started_at", "created_at")]
    return {**procs.percentiles_ms(waits), "enqueue_call": procs.percentiles_ms(calls)}


def worker_log_problems(workdir: Path, variant: str) -> int:
    """Lines in this set-up's worker logs that report an error or a locked database."""
    slug = variant.replace(" ", "")
    bad = 0
    for log in workdir.glob(f"runworkers-{slug}-*.log"):
        bad += sum(
            1
            for line in log.read_text(errors="replace").splitlines()
            if "Traceback" in line or "ERROR" in line or "locked" in line
        )
    return bad


def run_variant(variant: str, args: argparse.Namespace, env: dict[str, str], workdir: Path) -> dict:
    """Drain `args.jobs` queued jobs, idle, then measure pick-up latency, with one worker set-up."""
    from jobs.services import enqueue_jobs

    reset_tables()
    for start in range(0, args.jobs, BATCH):  # queued before the workers start: this measures draining
        enqueue_jobs(specs=drain_specs(variant, start, min(BATCH, args.jobs - start)))
    workers = start_workers(variant, env, workdir)
    pids = [w.pid for w in workers]
    sampler = procs.RssSampler(pids)
    sampler.start()
    try:
        drained = drain(args.jobs, pids, timeout=max(120, args.jobs / 50))
        time.sleep(1.0)  # let the workers go idle
        idle = idle_cpu_percent(pids, 3.0)
        latency = pickup_latencies(args.latency_jobs, args.gap) if args.latency_jobs else {}
    finally:
        sampler.stop()
        procs.stop(workers)
    warm_at = drained["start"] + 0.1 * (drained["end"] - drained["start"])
    return {
        "command": [" ".join(["manage.py runworkers", *a]) for a in VARIANTS[variant]],
        "drain": drained,
        "idle_cpu_percent": idle,
        "latency": latency,
        "rss": procs.rss_summary(sampler.samples, warm_at=warm_at),
        "log_problems": worker_log_problems(workdir, variant),
    }


def measure(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    env = configure(args.db, workdir, args.pg_url)
    setup_django()
    reset_tables()
    one = enqueue_one_by_one(args.one_by_one)
    reset_tables()
    bulk = enqueue_bulk(args.bulk)
    reset_tables()
    batch = enqueue_batch(args.batch)
    variants = {}
    chosen = args.variants.split(",") if args.variants else [PRIMARY] if args.quick else list(VARIANTS)
    for variant in chosen:
        variants[variant] = run_variant(variant, args, env, workdir)
    reset_tables()
    return {
        "db": args.db,
        "server_version": db_version(),
        "enqueue": {
            "one_by_one_per_s": round(one, 1),
            "one_by_one_n": args.one_by_one,
            "bulk_per_s": round(bulk, 1),
            "bulk_n": args.bulk,
            "bulk_batch": BATCH,
            "batch_per_s": round(batch, 1),
            "batch_n": args.batch,
        },
        "primary": PRIMARY if PRIMARY in chosen else chosen[0],
        "variants": variants,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_jobdeck")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--one-by-one", type=int, default=2_000)
    parser.add_argument("--bulk", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=10_000, help="members of the one batch enqueued")
    parser.add_argument("--quick", action="store_true", help="only the primary worker set-up")
    parser.add_argument("--variants", default="", help="comma-separated worker set-ups to run (default: all)")
    args = parser.parse_args()
    unknown = set(args.variants.split(",")) - set(VARIANTS) if args.variants else set()
    if unknown:
        parser.error(f"unknown worker set-ups {sorted(unknown)}: choose from {', '.join(VARIANTS)}")
    result = measure(args)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
