"""The REST API served by daphne, as in production: POST /jobs throughput and GET /jobs latency at depth.

    .venv/bin/python bench/api.py [--db sqlite|postgres] [--rows 1000000] [--posts 2000] [--quick]

One database per run, created fresh (a SQLite file in a temporary directory, or the PostgreSQL
database named by --pg-url, dropped and created; its name must start with "bench"). Django runs in
this process to set up the database, a user and a token, and to bulk-load the rows; one `daphne`
subprocess serves the API on a free port; the client is plain http.client with keep-alive.

Figures are round-trip times on the loopback interface, so they bound the server time from above.
Each is also given as a ratio to the reference request measured in the same run: GET /api/v1/tasks
(auth and routing, no job query), which is how much the framework alone costs at that moment on
this shared machine. Prints a table and writes bench/results/api-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `bench` importable

from bench import jobdeck_side, procs, web  # noqa: E402

LOAD_BATCH = 5_000
TASKS = ["jobs.tasks.noop", "jobs.tasks.echo", "jobs.tasks.sleep", "jobs.tasks.thumbnail"]
QUEUES = ["default", "media", "emails", "reports"]


class Client:
    """One keep-alive connection with the token; returns (status, body, headers, seconds)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes, dict[str, str], float]:
        data = None if body is None else json.dumps(body).encode()
        t0 = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - t0
        return response.status, payload, dict(response.getheaders()), elapsed


def load_rows(total: int) -> float:
    """Insert `total` jobs spread over tasks, queues and states, the way states.create_jobs does
    for bulk enqueue; then mark most of them finished with one UPDATE (a benchmark shortcut: the
    list query only reads these columns). Returns rows per second."""
    from django.db import connection
    from django.utils import timezone

    from jobs import states
    from jobs.models import Job

    rng = random.Random(7)  # noqa: S311 - test data
    now = timezone.now()
    t0 = time.perf_counter()
    for start in range(0, total, LOAD_BATCH):
        rows = [
            states.NewJob(
                queue=QUEUES[rng.randrange(len(QUEUES))],
                task_name=TASKS[rng.randrange(len(TASKS))],
                args=[],
                payload={"user_id": rng.randrange(100_000), "note": "bench"},
                priority=0,
                max_attempts=3,
                run_at=now,
            )
            for _ in range(min(LOAD_BATCH, total - start))
        ]
        states.create_jobs(rows)
    rate = total / (time.perf_counter() - t0)
    table = Job._meta.db_table
    with connection.cursor() as cursor:
        # 90% done, 5% failed, the rest left queued: roughly what a long-lived queue holds.
        cursor.execute(f"UPDATE {table} SET status = 'done', attempt = 1, finished_at = created_at WHERE id % 20 > 1")
        cursor.execute(f"UPDATE {table} SET status = 'failed', attempt = 3, finished_at = created_at WHERE id % 20 = 1")
        cursor.execute(f"ANALYZE {table}" if connection.vendor == "postgresql" else "ANALYZE")
    return rate


def make_token() -> str:
    from django.contrib.auth import get_user_model

    from jobs import tokens

    get_user_model().objects.create_user("bench", password="bench")  # noqa: S106
    return tokens.create_token(username="bench", name="bench")[1]


def timed_calls(port: int, token: str, requests: list[tuple[str, str, object]], expect: int) -> list[float]:
    client = Client(port, token)
    times = []
    for method, path, body in requests:
        status, payload, _, elapsed = client.call(method, path, body)
        if status != expect:
            raise SystemExit(f"{method} {path} answered {status}: {payload[:300]!r}")
        times.append(elapsed)
    return times


def throughput(port: int, token: str, make: list[tuple[str, str, object]], expect: int, clients: int) -> float:
    """Requests per second with `clients` connections sending `make` between them."""
    shares = [make[i::clients] for i in range(clients)]
    errors: list[BaseException] = []

    def run(share: list[tuple[str, str, object]]) -> None:
        try:
            timed_calls(port, token, share, expect)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"throughput run failed: {errors[0]}")
    return len(make) / (time.perf_counter() - t0)


def post_figures(port: int, token: str, posts: int) -> dict:
    job = ("POST", "/api/v1/jobs", {"task": "jobs.tasks.noop", "payload": {"n": 1}})
    reference = ("GET", "/api/v1/tasks", None)
    figures = {}
    for clients in (1, 4):
        ref = throughput(port, token, [reference] * (posts // 2), 200, clients)
        rate = throughput(port, token, [job] * posts, 202, clients)
        figures[f"clients_{clients}"] = {"jobs_per_s": round(rate), "reference_per_s": round(ref), "ratio": rate / ref}
    return figures


def get_figures(port: int, token: str, samples: int) -> dict:
    from django.db.models import Max, Min

    from jobs.api.routes_jobs import encode_cursor
    from jobs.models import Job

    bounds = Job.objects.aggregate(lo=Min("id"), hi=Max("id"))
    lo, hi = bounds["lo"], bounds["hi"]
    rng = random.Random(11)  # noqa: S311 - sampling

    def deep(path: str) -> list[tuple[str, str, object]]:
        sep = "&" if "?" in path else "?"
        return [("GET", f"{path}{sep}cursor={encode_cursor(rng.randint(lo, hi))}", None) for _ in range(samples)]

    cases: dict[str, list[tuple[str, str, object]]] = {
        "reference GET /tasks": [("GET", "/api/v1/tasks", None)] * samples,
        "first page": [("GET", "/api/v1/jobs", None)] * samples,
        "cursor, any depth": deep("/api/v1/jobs"),
        "cursor, per_page=200": deep("/api/v1/jobs?per_page=200"),
        "cursor + status=failed": deep("/api/v1/jobs?status=failed"),
        "cursor + status=queued": deep("/api/v1/jobs?status=queued"),
        "cursor + queue=media": deep("/api/v1/jobs?queue=media"),
        "cursor + task=jobs.tasks.echo": deep("/api/v1/jobs?task=jobs.tasks.echo"),
        "cursor + queue + status": deep("/api/v1/jobs?queue=reports&status=done"),
        "page=2 (offset)": [("GET", "/api/v1/jobs?page=2", None)] * samples,
        "page=200 (offset)": [("GET", "/api/v1/jobs?page=200", None)] * max(10, samples // 10),
        "GET /jobs/{id}": [("GET", f"/api/v1/jobs/{rng.randint(lo, hi)}", None) for _ in range(samples)],
    }
    figures = {}
    timed_calls(port, token, cases["cursor, any depth"][:20], 200)  # warm the server and the caches
    for name, requests in cases.items():
        figures[name] = procs.percentiles_ms(timed_calls(port, token, requests, 200))
    reference = figures["reference GET /tasks"]["p95_ms"]
    for entry in figures.values():
        entry["p95_ratio"] = round(entry["p95_ms"] / reference, 2)
    return figures


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    env = jobdeck_side.configure(args.db, workdir, args.pg_url)
    env["JOBDECK_LOG_LEVEL"] = "WARNING"
    jobdeck_side.setup_django()
    token = make_token()
    port = web.free_port()
    server = web.start_daphne(env, workdir, port, up=lambda: Client(port, token).call("GET", "/api/v1/tasks")[0] == 200)
    try:
        result: dict = {"db": args.db, "db_version": jobdeck_side.db_version(), "rows": args.rows}
        result["post_empty_table"] = post_figures(port, token, args.posts)
        result["load_rows_per_s"] = round(load_rows(args.rows))
        result["get"] = get_figures(port, token, args.samples)
        result["post_full_table"] = post_figures(port, token, args.posts)
        return result
    finally:
        procs.stop([server])


def print_table(result: dict) -> None:
    print(
        f"\n{result['db']} {result['db_version']}, {result['rows']:,} jobs (loaded at {result['load_rows_per_s']:,}/s)"
    )
    print("\nPOST /api/v1/jobs (jobs/s; reference = GET /tasks requests/s with the same clients)")
    for when in ("post_empty_table", "post_full_table"):
        for clients, f in result[when].items():
            print(
                f"  {when:17} {clients:10} {f['jobs_per_s']:>6,}/s  reference {f['reference_per_s']:>6,}/s"
                f"  ratio {f['ratio']:.2f}"
            )
    print("\nGET round trips (ms)                 p50      p95      p99      max   p95/ref")
    for name, f in result["get"].items():
        print(
            f"  {name:32} {f['p50_ms']:>7.2f}  {f['p95_ms']:>7.2f}  {f['p99_ms']:>7.2f}  {f['max_ms']:>7.2f}"
            f"  {f['p95_ratio']:>6.2f}"
        )
    print("\ntarget: GET /jobs via cursor p95 <= 50 ms at any depth")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--posts", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 200 posts, 30 samples")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_api")
    )
    args = parser.parse_args()
    if args.quick:
        args.rows, args.posts, args.samples = 20_000, 200, 30
    web.run("api", args, measure, print_table)


if __name__ == "__main__":
    main()
