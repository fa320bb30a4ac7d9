"""The reference: raw huey (SqliteHuey, its consumer with 2 process workers) measured like Jobdeck.

    python -m bench.huey_side measure --jobs 10000 --workdir DIR --out FILE   (run.py does this)
    python -m bench.huey_side consume --workdir DIR                            (the consumer it starts)

Consumer options are huey's defaults (initial_delay 0.1 s, backoff 1.15, max_delay 10 s) apart
from the 2 process workers; huey's logger is at WARNING, as Jobdeck's settings set it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import huey
from huey import SqliteHuey

from bench import procs

WORKERS = 2


def make_huey(workdir: Path) -> SqliteHuey:
    """The huey instance both sides share, with its two tasks registered under fixed names."""
    app = SqliteHuey("bench", filename=str(workdir / "huey.sqlite3"))

    @app.task(name="bench.noop")
    def noop() -> float:
        return time.time()

    @app.task(name="bench.stamp")
    def stamp(enqueued_at: float) -> float:
        return time.time() - enqueued_at

    app.bench_tasks = {"noop": noop, "stamp": stamp}  # type: ignore[attr-defined]
    return app


def consume(workdir: Path) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")
    make_huey(workdir).create_consumer(workers=WORKERS, worker_type="process").run()


def start_consumer(workdir: Path) -> procs.subprocess.Popen:
    cmd = [sys.executable, "-m", "bench.huey_side", "consume", "--workdir", str(workdir)]
    return procs.start(cmd, env=dict(os.environ), log_path=workdir / "huey-consumer.log")


def enqueue_noops(app: SqliteHuey, n: int) -> float:
    """Enqueue n no-op tasks one by one (huey has no bulk enqueue). Returns tasks per second."""
    noop = app.bench_tasks["noop"]  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for _ in range(n):
        noop()
    return n / (time.perf_counter() - t0)


def drain(app: SqliteHuey, n: int, pids: list[int], timeout: float) -> dict:
    """Wait until all n results are stored; the span is first to last task timestamp."""
    cpu0, busy0 = procs.tree_cpu_seconds(pids), procs.machine_busy_seconds()
    procs.wait_until(lambda: app.storage.result_store_size() >= n, timeout=timeout, interval=0.05, what="huey to drain")
    cpu1, busy1 = procs.tree_cpu_seconds(pids), procs.machine_busy_seconds()
    stamps = sorted(app.serializer.deserialize(v) for v in app.storage.result_items().values())
    app.storage.flush_results()
    span = stamps[-1] - stamps[0]
    return {
        "jobs": len(stamps),
        "seconds": round(span, 3),
        "jobs_per_s": round(len(stamps) / span, 1),
        "start": stamps[0],
        "end": stamps[-1],
        "worker_cpu_ms_per_job": round((cpu1 - cpu0) * 1000 / n, 3),
        "machine_busy": round((busy1[0] - busy0[0]) / (busy1[1] - busy0[1]), 3),
    }


def idle_cpu_percent(pids: list[int], seconds: float) -> float:
    """CPU used by the idle worker tree over `seconds`, as a percentage of one core."""
    cpu0 = procs.tree_cpu_seconds(pids)
    time.sleep(seconds)
    return round((procs.tree_cpu_seconds(pids) - cpu0) * 100 / seconds, 2)


def pickup_latencies(app: SqliteHuey, count: int, gap: float) -> dict:
    """Enqueue `count` tasks `gap` seconds apart to idle workers; each reports its own wait."""
    stamp = app.bench_tasks["stamp"]  # type: ignore[attr-defined]
    start = time.perf_counter()
    results, calls = [], []
    for i in range(count):
        time.sleep(max(0.0, start + i * gap - time.perf_counter()))
        t0 = time.perf_counter()
        results.append(stamp(time.time()))
        calls.append(time.perf_counter() - t0)
    waits = [r.get(blocking=True, timeout=60) for r in results]
    return {**procs.percentiles_ms(waits), "enqueue_call": procs.percentiles_ms(calls)}


def measure(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    app = make_huey(workdir)
    enqueue_rate = enqueue_noops(app, args.jobs)
    consumer = start_consumer(workdir)
    sampler = procs.RssSampler([consumer.pid])
    sampler.start()
    try:
        drained = drain(app, args.jobs, [consumer.pid], timeout=max(120, args.jobs / 50))
        time.sleep(1.0)  # let the workers go idle
        idle = idle_cpu_percent([consumer.pid], 3.0)
        latency = pickup_latencies(app, args.latency_jobs, args.gap)
    finally:
        sampler.stop()
        procs.stop([consumer])
    warm_at = drained["start"] + 0.1 * (drained["end"] - drained["start"])
    return {
        "name": f"huey {huey.__version__} SqliteHuey, consumer -w {WORKERS} -k process",
        "enqueue": {"one_by_one_per_s": round(enqueue_rate, 1), "one_by_one_n": args.jobs},
        "drain": drained,
        "idle_cpu_percent": idle,
        "latency": latency,
        "rss": procs.rss_summary(sampler.samples, warm_at=warm_at),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["measure", "consume"])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.mode == "consume":
        consume(Path(args.workdir))
        return
    result = measure(args)
    Path(args.out).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
