"""What the web benchmarks (bench/api.py, bench/dashboard.py) share: a daphne to measure against,
and the run's ending (results file, table, scratch database dropped)."""

from __future__ import annotations

import argparse
import datetime
import json
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import jobdeck_side, procs

RESULTS = procs.ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daphne(env: dict[str, str], workdir: Path, port: int, up: Callable[[], bool]) -> object:
    """One daphne serving project.asgi:application on `port`, returned once `up()` says it answers."""
    server = procs.start(
        [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
        env=env,
        log_path=workdir / "daphne.log",
    )

    def answers() -> bool:
        try:
            return up()
        except OSError:
            return False

    procs.wait_until(answers, timeout=60, what="daphne to answer")
    return server


def run(
    kind: str,
    args: argparse.Namespace,
    measure: Callable[[argparse.Namespace, Path], dict],
    print_table: Callable[[dict], None],
) -> None:
    """Measure in a scratch directory, write bench/results/<kind>-<UTC time>.json, print the table,
    and drop the scratch PostgreSQL database."""
    with tempfile.TemporaryDirectory(prefix=f"jobdeck-bench-{kind}-") as tmp:
        result = measure(args, Path(tmp))
    result["at"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{kind}-{result['at'].replace(':', '')}.json").write_text(json.dumps(result, indent=2))
    print_table(result)
    if args.db == "postgres":
        jobdeck_side.recreate_postgres(args.pg_url, create=False)
