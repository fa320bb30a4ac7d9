"""Jobdeck's benchmark, one command: drain rate, idle pick-up latency, enqueue rates and worker memory
on SQLite and PostgreSQL, each against raw huey measured in the same run.

    .venv/bin/python bench/run.py [--db sqlite|postgres|both] [--jobs 10000] [--quick] [--keep]
                                  [--variants process-2,thread-2,isolated-2]

Prints a table and writes bench/results/<UTC timestamp>.json. Each part runs in its own
subprocess (Django can be set up for one database per process); every process started dies
with its starter, and is stopped explicitly when its part ends.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `bench` importable

from bench import jobdeck_side, procs, report  # noqa: E402

RESULTS = procs.ROOT / "bench" / "results"
PART_TIMEOUT = 900  # seconds; a part that takes longer has hung


def run_part(module: str, args: list[str], *, workdir: Path, name: str) -> dict:
    """Run `python -m module args --out FILE` and return the JSON it wrote, or {"error": ...}."""
    out = workdir / f"{name}.json"
    cmd = [sys.executable, "-m", module, *args, "--workdir", str(workdir), "--out", str(out)]
    print(f"... measuring {name}", file=sys.stderr, flush=True)
    proc = procs.start(cmd, env=dict(os.environ), log_path=workdir / f"{name}.log")
    try:
        proc.wait(PART_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass  # a hung part: stop() below interrupts it, and its finally blocks stop its workers
    finally:
        procs.stop([proc], grace=20)
    if proc.returncode != 0 or not out.exists():
        tail = (workdir / f"{name}.log").read_text(errors="replace").strip().splitlines()[-1:]
        return {"error": f"{name} failed (exit {proc.returncode}): {' '.join(tail)}; logs in {workdir}"}
    return json.loads(out.read_text())


def sizes(args: argparse.Namespace) -> dict[str, int]:
    if args.quick:
        return {"jobs": 2_000, "latency_jobs": 50, "one_by_one": 500, "bulk": 5_000}
    return {"jobs": args.jobs, "latency_jobs": 200, "one_by_one": 2_000, "bulk": 20_000}


def machine() -> dict[str, str | int]:
    import django
    import huey

    return {
        "cpus": os.cpu_count() or 0,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "huey": huey.__version__,
    }


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=procs.ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--jobs", type=int, default=10_000, help="queued jobs to drain (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes and one worker set-up (a smoke test)")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_jobdeck")
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (databases and logs)")
    parser.add_argument(
        "--variants",
        default="",
        help=f"comma-separated worker set-ups (default: all; {', '.join(jobdeck_side.VARIANTS)}); "
        "process-2, or else the first, is compared with huey in full",
    )
    return parser.parse_args()


def measure(args: argparse.Namespace, workdir: Path, started: datetime.datetime) -> dict:
    """Each database, preceded by its own huey reference run."""
    n = sizes(args)
    common = ["--jobs", str(n["jobs"]), "--latency-jobs", str(n["latency_jobs"])]
    results: dict = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "revision": git_revision(),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "machine": machine(),
        "sizes": n,
        "load_average_before": os.getloadavg(),
    }
    for db in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        # The reference is measured right before each database, so both see the same machine load.
        reference = run_part("bench.huey_side", ["measure", *common], workdir=workdir, name=f"huey-before-{db}")
        extra = ["--one-by-one", str(n["one_by_one"]), "--bulk", str(n["bulk"]), "--pg-url", args.pg_url]
        figures = run_part(
            "bench.jobdeck_side",
            ["--db", db, *common, *extra, *(["--quick"] if args.quick else []), "--variants", args.variants],
            workdir=workdir,
            name=db,
        )
        results[db] = {**figures, "reference": reference}
    return results


def clean_up(args: argparse.Namespace, workdir: Path, *, keep: bool) -> None:
    if keep:
        print(f"Work directory kept: {workdir}")
        return
    shutil.rmtree(workdir, ignore_errors=True)
    if args.db in ("postgres", "both"):
        jobdeck_side.recreate_postgres(args.pg_url, create=False)


def main() -> int:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jobdeck-bench-"))
    started = datetime.datetime.now(datetime.UTC)
    try:
        results = measure(args, workdir, started)
    except KeyboardInterrupt:  # run_part has stopped the part that was running
        print("Interrupted.", file=sys.stderr)
        clean_up(args, workdir, keep=args.keep)
        return 130
    checks = report.check_targets(results)
    results["targets"] = checks
    print(report.render(results, checks))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nFigures written to {path.relative_to(procs.ROOT)}")
    failed = any("error" in results[db] or "error" in results[db]["reference"] for db in report.NAMES if db in results)
    clean_up(args, workdir, keep=args.keep or failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
