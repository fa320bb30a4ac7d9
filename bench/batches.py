"""Batches (issue 13): enqueue speed of one 10,000-member batch beside the plain bulk enqueue, and the
cost a batch adds to its members' finish path (each finish resolves its links and counts itself on
the callbacks under their row locks).

    python -m bench.batches --db sqlite|postgres --workdir DIR [--pg-url postgres://.../bench_NAME]

Each figure is the median of --rounds alternating rounds, so load on a shared machine hits both sides.
The finish path is measured in this process: claim and record jobs one at a time with `threads`
threads, plain jobs against members of one batch with three callbacks (all threads then lock the
same three callback rows).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

from bench import jobdeck_side


def finish_rate(n: int, threads: int) -> float:
    """Claim and record the next n queued jobs with `threads` threads. Returns finishes per second."""
    from django.db import connection

    from jobs import states
    from jobs.status import Status

    left = [n]
    lock = threading.Lock()

    def work(name: str) -> None:
        try:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                claimed = states.claim_next(queues=["default"], worker=name, lease_seconds=60)
                if claimed is None:
                    return
                states.record(states.Finish(claimed=claimed, to=Status.DONE, reason="done"))
        finally:
            connection.close()

    t0 = time.perf_counter()
    pool = [threading.Thread(target=work, args=(f"bench-{i}",)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/bench_jobdeck")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--finishes", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    jobdeck_side.configure(args.db, Path(args.workdir), args.pg_url)
    jobdeck_side.setup_django()
    from jobs.services import JobSpec, enqueue_batch, enqueue_jobs

    noop = JobSpec(task_name=jobdeck_side.NOOP)
    bulk, batch, plain_finish, member_finish = [], [], [], []
    for _ in range(args.rounds):
        jobdeck_side.reset_tables()
        bulk.append(jobdeck_side.enqueue_bulk(args.members))
        jobdeck_side.reset_tables()
        batch.append(jobdeck_side.enqueue_batch(args.members))
        jobdeck_side.reset_tables()
        enqueue_jobs(specs=[noop] * args.finishes)
        plain_finish.append(finish_rate(args.finishes, args.threads))
        jobdeck_side.reset_tables()
        enqueue_batch(specs=[noop] * args.finishes, on_success=noop, on_complete=noop, on_failure=noop)
        member_finish.append(finish_rate(args.finishes, args.threads))
    jobdeck_side.reset_tables()
    if args.db == "postgres":
        from django.db import connections

        connections.close_all()
        jobdeck_side.recreate_postgres(args.pg_url, create=False)
    print(
        json.dumps(
            {
                "db": args.db,
                "enqueue_per_s": {
                    f"bulk {args.members:,} ({jobdeck_side.BATCH:,}/call)": round(statistics.median(bulk)),
                    f"one batch of {args.members:,} + 3 callbacks": round(statistics.median(batch)),
                },
                f"finish_per_s ({args.threads} threads, claim + record)": {
                    "plain jobs": round(statistics.median(plain_finish)),
                    "members of one batch with 3 callbacks": round(statistics.median(member_finish)),
                },
                "rounds": {"bulk": bulk, "batch": batch, "plain": plain_finish, "members": member_finish},
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
