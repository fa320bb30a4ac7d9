"""The dashboard served by daphne over 1,000,000 jobs: each page's server time, and how soon a change reaches a page.

    .venv/bin/python bench/dashboard.py [--db sqlite|postgres] [--rows 1000000] [--samples 100] [--quick]

One database per run, created fresh (a SQLite file in a temporary directory, or the PostgreSQL
database named by --pg-url, dropped and created; its name must start with "bench"). This process
sets up Django, bulk-loads the jobs (bench/api.py load_rows: 90% done, 5% failed, 5% queued, one
creation event each) and gives the finished ones a start time and an attempt row, so the
overview's percentiles have samples; one `daphne` subprocess serves the dashboard on a free port.

1. Pages: a client signs in through the login form (session cookie, keep-alive) and times
   `--samples` GETs of each page. Round trips on the loopback interface bound the server time from
   above; each p95 is also given as a ratio to the reference request in the same run, GET /login/
   (session, middleware and a template, no job query). Target: p95 <= 50 ms.
2. Live updates: a WebSocket client (a minimal RFC 6455 client below; it sends the session cookie)
   opens the jobs page's live address with one queued job on show. This process then changes that
   job's state through jobs.services (cancel, then retry, alternately) and times from just before
   the service call until the row with the new state arrives; then the same for new jobs
   (services.enqueue_job) appearing on top of the list. Changes are 0.3-0.6 s apart, so each is
   isolated (changes closer than the fanout's 0.25 s interval wait for it). Target: p95 <= 250 ms.

Prints a table and writes bench/results/dashboard-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import os
import queue
import random
import re
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `bench` importable

from bench import api, jobdeck_side, procs, web  # noqa: E402

USER, PASSWORD = "bench", "bench-dashboard-password"
PAGE_TARGET_MS = 50
TASKS = api.TASKS  # the tasks the loaded jobs belong to
# Seconds before each request of these cases: longer than jobs.task_stats.CACHE_SECONDS since the
# same task was last asked (tasks cycle), so each request computes the figures afresh.
PAUSED = {
    "tasks /tasks/ (uncached)": 1.1,
    "task page /tasks/<name>/ (uncached)": 0.3,
    "GET /api/v1/tasks/<name> (uncached)": 0.3,
}
LIVE_TARGET_MS = 250


class Browser:
    """One keep-alive connection that keeps cookies, like a browser tab without the rendering."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes, float]:
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}/login/"
        t0 = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - t0
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, payload, elapsed

    def sign_in(self) -> None:
        status, page, _ = self.request("GET", "/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None:
            raise SystemExit(f"GET /login/ answered {status} without a form")
        form = urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "username": USER, "password": PASSWORD})
        status, body, _ = self.request("POST", "/login/", form)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"signing in answered {status}: {body[:300]!r}")


class WebSocket:
    """A minimal RFC 6455 client: handshake with the session cookie, then a thread that queues text messages.

    Server frames are unmasked; the client only answers pings (masked, as the RFC requires).
    """

    def __init__(self, port: int, path: str, cookie: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: {cookie}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise SystemExit("the WebSocket handshake was cut off")
            head += chunk
        head, _, self.buffer = head.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"WebSocket refused: {head[:200]!r}")
        self.sock.settimeout(None)
        self.messages: queue.Queue[tuple[float, str]] = queue.Queue()
        self.closed = threading.Event()
        threading.Thread(target=self._read, daemon=True, name="bench-ws").start()

    def _exact(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # control frames < 126 bytes

    def _read(self) -> None:
        parts: list[bytes] = []
        try:
            while True:
                first, second = self._exact(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", self._exact(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", self._exact(8))[0]
                payload = self._exact(length)
                opcode = first & 0x0F
                if opcode == 0x9:
                    self._send(0xA, payload)
                elif opcode == 0x8:
                    break
                elif opcode in (0x0, 0x1, 0x2):
                    parts.append(payload)
                    if first & 0x80:  # final fragment
                        self.messages.put((time.perf_counter(), b"".join(parts).decode()))
                        parts = []
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()

    def drain(self) -> None:
        while not self.messages.empty():
            self.messages.get_nowait()

    def wait_for(self, *needles: str, timeout: float = 10.0) -> float:
        """The perf_counter time at which a message holding every needle arrived."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SystemExit(f"no live message with {needles} within {timeout} s")
            try:
                at, text = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            if all(needle in text for needle in needles):
                return at

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send(0x8, struct.pack("!H", 1000))
        self.closed.wait(5)
        self.sock.close()


def add_history() -> None:
    """Benchmark shortcut: give finished jobs a start time and one attempt row each (INSERT ... SELECT)."""
    from django.db import connection

    from jobs.models import Attempt, Job, JobEvent

    job, attempt = Job._meta.db_table, Attempt._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {job} SET started_at = created_at WHERE status IN ('done', 'failed')")  # noqa: S608
        cursor.execute(
            f"INSERT INTO {attempt} (job_id, number, worker, started_at, finished_at, outcome, error_class,"  # noqa: S608
            " error_message, traceback, progress_message)"
            f" SELECT id, 1, 'bench', created_at, created_at, status, '', '', '', '' FROM {job}"
            " WHERE status IN ('done', 'failed')"
        )
        if connection.vendor == "postgresql":
            # What autovacuum does soon after a load: statistics, and a visibility map for index-only scans.
            for table in (job, attempt, JobEvent._meta.db_table):
                cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute("ANALYZE")


def make_user() -> None:
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(USER, password=PASSWORD)
    user.groups.add(Group.objects.get_or_create(name="operator")[0])


def page_figures(port: int, samples: int) -> dict:
    """Round trips of each page with a signed-in session, and of the reference GET /login/."""
    from django.db.models import Max, Min

    from jobs.models import Job

    bounds = Job.objects.aggregate(lo=Min("id"), hi=Max("id"))
    lo, hi = bounds["lo"], bounds["hi"]
    rng = random.Random(11)  # noqa: S311 - sampling

    def deep(query: str) -> list[str]:
        sep = "&" if query else ""
        return [f"/jobs/?{query}{sep}before={rng.randint(lo, hi)}" for _ in range(samples)]

    cases: dict[str, list[str]] = {
        "reference GET /login/": ["/login/"] * samples,
        "overview /": ["/"] * samples,
        "jobs list": ["/jobs/"] * samples,
        "jobs ?status=failed": ["/jobs/?status=failed"] * samples,
        "jobs ?queue=media&status=done": ["/jobs/?queue=media&status=done"] * samples,
        "jobs ?task=jobs.tasks.echo": ["/jobs/?task=jobs.tasks.echo"] * samples,
        "jobs ?q=<id> (search)": [f"/jobs/?q={rng.randint(lo, hi)}" for _ in range(samples)],
        "jobs ?before=<id> (keyset, any depth)": deep(""),
        "jobs ?status=done&before=<id>": deep("status=done"),
        "jobs ?queue=emails&before=<id>": deep("queue=emails"),
        "job detail /jobs/<id>/": [f"/jobs/{rng.randint(lo, hi)}/" for _ in range(samples)],
        # The pages added alongside (timed for the record; not part of this benchmark's brief).
        "queues /queues/": ["/queues/"] * samples,
        "workers /workers/": ["/workers/"] * samples,
        "failed /failed/": ["/failed/"] * samples,
        "schedules /schedules/": ["/schedules/"] * samples,
        # Per-task figures (issue 12): each task's newest jobs, reused for 1 s per web process. The
        # "uncached" cases pause between requests (PAUSED) so every request computes afresh.
        "tasks /tasks/ (uncached)": ["/tasks/"] * samples,
        "task page /tasks/<name>/ (uncached)": [f"/tasks/{TASKS[i % len(TASKS)]}/" for i in range(samples)],
        "task page /tasks/<name>/ (polled, cached)": ["/tasks/jobs.tasks.echo/"] * samples,
        "GET /api/v1/tasks/<name> (uncached)": [f"/api/v1/tasks/{TASKS[i % len(TASKS)]}" for i in range(samples)],
    }
    browser = Browser(port)
    browser.sign_in()
    for path in cases["jobs list"][:10] + cases["overview /"][:10]:  # warm the server and the caches
        browser.request("GET", path)
    figures: dict[str, dict] = {}
    for name, paths in cases.items():
        times, sizes = [], []
        for path in paths:
            time.sleep(PAUSED.get(name, 0.0))
            status, body, elapsed = browser.request("GET", path)
            if status != 200:
                figures[name] = {"error": f"GET {path} answered {status}"}
                break
            times.append(elapsed)
            sizes.append(len(body))
        else:
            figures[name] = {**procs.percentiles_ms(times), "kb": round(sum(sizes) / len(sizes) / 1024, 1)}
    reference = figures["reference GET /login/"]["p95_ms"]
    for entry in figures.values():
        if "p95_ms" in entry:
            entry["p95_ratio"] = round(entry["p95_ms"] / reference, 2)
    return figures


def live_figures(port: int, samples: int) -> dict:
    """Time from a service call in this process to the jobs page's WebSocket message showing its result."""
    from jobs import selectors, services

    browser = Browser(port)
    browser.sign_in()
    shown = services.enqueue_job(spec=services.JobSpec(task_name="jobs.tasks.noop", queue="live"))
    path = "/ws/jobs/?" + urlencode({"after": selectors.last_event_id(), "ids": shown.pk})
    ws = WebSocket(port, path, browser.cookie_header())
    rng = random.Random(5)  # noqa: S311 - pacing
    try:
        time.sleep(1.0)  # the consumer joins and the tailer starts; its first messages are not timed
        changes, news = [], []
        state = "queued"
        for _ in range(samples):
            time.sleep(rng.uniform(0.3, 0.6))
            ws.drain()
            t0 = time.perf_counter()
            if state == "queued":
                services.cancel_job(job_id=shown.pk, actor="bench")
                state = "cancelled"
            else:
                services.retry_job(job_id=shown.pk, actor="bench")
                state = "queued"
            changes.append(ws.wait_for(f'id="job-{shown.pk}"', f'data-status="{state}"') - t0)
        for _ in range(samples):
            time.sleep(rng.uniform(0.3, 0.6))
            ws.drain()
            t0 = time.perf_counter()
            job = services.enqueue_job(spec=services.JobSpec(task_name="jobs.tasks.noop", queue="live"))
            news.append(ws.wait_for(f'id="job-{job.pk}"') - t0)
    finally:
        ws.close()
    return {"state change of a shown job": procs.percentiles_ms(changes), "new job": procs.percentiles_ms(news)}


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    env = jobdeck_side.configure(args.db, workdir, args.pg_url)
    env["JOBDECK_LOG_LEVEL"] = "WARNING"
    jobdeck_side.setup_django()
    make_user()
    result: dict = {"db": args.db, "db_version": jobdeck_side.db_version(), "rows": args.rows}
    t0 = time.perf_counter()
    result["load_rows_per_s"] = round(api.load_rows(args.rows))
    add_history()
    result["load_seconds"] = round(time.perf_counter() - t0, 1)
    port = web.free_port()
    server = web.start_daphne(env, workdir, port, up=lambda: Browser(port).request("GET", "/login/")[0] == 200)
    try:
        result["pages"] = page_figures(port, args.samples)
        result["live"] = live_figures(port, args.samples)
    finally:
        procs.stop([server])
    result["daphne_log_tail"] = (workdir / "daphne.log").read_text()[-2000:]
    return result


def print_table(result: dict) -> None:
    print(f"\n{result['db']} {result['db_version']}, {result['rows']:,} jobs (loaded in {result['load_seconds']} s)")
    print(f"\npage round trips (ms), target p95 <= {PAGE_TARGET_MS}     p50      p95      p99      max  p95/ref     KB")
    for name, f in result["pages"].items():
        if "error" in f:
            print(f"  {name:44} {f['error']}")
            continue
        print(
            f"  {name:44} {f['p50_ms']:>7.2f}  {f['p95_ms']:>7.2f}  {f['p99_ms']:>7.2f}  {f['max_ms']:>7.2f}"
            f"  {f['p95_ratio']:>7.2f}  {f['kb']:>5.1f}"
        )
    print(f"\nlive update latency (ms), target p95 <= {LIVE_TARGET_MS}        p50      p95      p99      max")
    for name, f in result["live"].items():
        print(f"  {name:44} {f['p50_ms']:>7.2f}  {f['p95_ms']:>7.2f}  {f['p99_ms']:>7.2f}  {f['max_ms']:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 20 samples")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_dash")
    )
    args = parser.parse_args()
    if args.quick:
        args.rows, args.samples = 20_000, 20
    web.run("dashboard", args, measure, print_table)


if __name__ == "__main__":
    main()
