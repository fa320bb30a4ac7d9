"""The live dashboard with many viewers: how soon a state change reaches every open page while the workers
drain about 1,000 jobs a second.

    .venv/bin/python bench/live.py [--db sqlite|postgres] [--viewers 500] [--seconds 30] [--rate 1000] [--quick]
                                   [--web 2]

One fresh database (a SQLite file in a temporary directory, or the PostgreSQL database --pg-url
names, dropped and created; its name must start with "bench"; with --db postgres, REDIS_URL or
--redis-url picks the channel layer). One daphne process serves the dashboard (bench/live_server.py:
the project's application plus a query counter), or --web of them on as many ports, the viewers
dealt out in turn (as a balancer would: each process then runs its own tailer for its own viewers;
the figures below are their sums); one `runworkers -w 2 --worker-type process` drains the default
queue.

1. Load, for the whole run: this process enqueues noop jobs through services.enqueue_jobs at --rate
   a second (batches every 0.1 s), and changes each of --watched (200) jobs in the "watched" queue
   (which no worker serves) every --change-every (2) seconds through services.cancel_job /
   retry_job, alternately; each phase gets fresh watched jobs, so their timelines stay short.
2. Viewers, in a child process (bench/live.py --child; one thread per socket, the minimal RFC 6455
   client of bench/dashboard.py) signed in with one session: 20% on the overview, 40% on jobs lists
   (all jobs newest first, ?queue=watched, ?status=queued, ?task=noop&queue=watched; each showing
   50 rows, as the page's ?ids= tells), 40% on the job pages of the watched jobs.
   First the reference, one viewer per page kind, then --viewers viewers; each measures --seconds
   after every socket is open and a 2 s warm-up.
3. Delivery: every state change (JobEvent) of a row or job page a viewer shows, from the event's
   created_at (stamped in the transaction that changes the state) to the first message that shows
   that state or a newer one (row `data-status`, the job page's status); changes that coalesced
   into a later one within a tick count with their own commit time. A change no message showed by
   the end is a miss. New rows on top of the all-jobs list count from their creation. The overview
   (one snapshot a second by design) is given as the age of each message's cursor event.
4. The web process: CPU % (of one core) and RSS over the window; SQL queries a second (all its
   connections); drained jobs a second.

Prints a table and writes bench/results/live-<UTC time>.json. BENCH_PROFILE=<file> writes a cProfile
of daphne's event loop thread for the whole run.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: make `bench` importable

from bench import dashboard, jobdeck_side, procs, web  # noqa: E402

TARGET_P95_MS, TARGET_P99_MS = 250, 500
SHOWN = 50  # rows on a jobs page
WARM_UP = 2.0
GRACE = 5.0  # seconds after the window for the last deliveries to arrive
LISTS = ["", "queue=watched", "status=queued", "task=jobs.tasks.noop&queue=watched"]
ROW = re.compile(r'<tr id="job-(\d+)" data-job-id="\d+" data-status="(\w+)"')
JOB_STATUS = re.compile(r'class="status status-(\w+)" id="job-status"')
CURSOR = re.compile(r'id="live-cursor" data-event-id="(\d+)"')


# --- the viewers (child process, no Django) ------------------------------------------------------


def child(spec_path: str, out_path: str) -> None:
    """Open every viewer's socket, say "open", record messages for the window, say "done", write them."""
    spec = json.loads(Path(spec_path).read_text())
    offset = time.time() - time.perf_counter()  # arrival times as wall-clock seconds, like created_at
    sockets = []
    for viewer in spec["viewers"]:
        sockets.append(dashboard.WebSocket(viewer["port"], viewer["path"], spec["cookie"]))
    print("open", flush=True)
    deadline = time.monotonic() + WARM_UP + spec["seconds"] + GRACE
    records: list[list[Any]] = [[] for _ in sockets]
    while time.monotonic() < deadline:
        time.sleep(0.05)
        for viewer, ws, out in zip(spec["viewers"], sockets, records, strict=True):
            while not ws.messages.empty():
                at, text = ws.messages.get_nowait()
                cursor = CURSOR.search(text)
                if viewer["kind"] == "job":
                    shown = [(viewer["job"], m.group(1)) for m in JOB_STATUS.finditer(text)]
                else:
                    shown = [(int(m.group(1)), m.group(2)) for m in ROW.finditer(text)]
                out.append([at + offset, int(cursor.group(1)) if cursor else None, shown])
    print("done", flush=True)
    for ws in sockets:
        ws.close()
    Path(out_path).write_text(json.dumps({"records": records, "closed": sum(ws.closed.is_set() for ws in sockets)}))


# --- the load (this process, Django) -------------------------------------------------------------


class Load:
    """The enqueuer and the changer threads, until stop()."""

    def __init__(self, rate: int, watched: list[int], change_every: float) -> None:
        self.rate, self.watched, self.change_every = rate, watched, change_every
        self.stopped = threading.Event()
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._guard, args=(f,), daemon=True) for f in (self.enqueue, self.change)
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()

    def _guard(self, body: Any) -> None:
        from django.db import connection

        try:
            body()
        except Exception as exc:
            self.errors.append(repr(exc))
        finally:
            connection.close()

    def enqueue(self) -> None:
        from jobs import services

        spec = services.JobSpec(task_name=jobdeck_side.NOOP)
        batch, step = max(1, self.rate // 10), 0.1
        due = time.monotonic()
        while not self.stopped.is_set():
            services.enqueue_jobs(specs=[spec] * batch)
            due += step
            self.stopped.wait(max(0.0, due - time.monotonic()))

    def change(self) -> None:
        from jobs import services

        due = time.monotonic()
        cancelled: set[int] = set()
        while not self.stopped.is_set():
            watched = self.watched  # a phase swaps in its own jobs
            step = self.change_every / len(watched)
            for job_id in watched:
                if job_id in cancelled:
                    services.retry_job(job_id=job_id, actor="bench")
                    cancelled.discard(job_id)
                else:
                    services.cancel_job(job_id=job_id, actor="bench")
                    cancelled.add(job_id)
                due += step
                if self.stopped.wait(max(0.0, due - time.monotonic())):
                    return


def new_watched(count: int) -> list[int]:
    """`count` jobs in the "watched" queue, which no worker serves: only the bench changes them."""
    from jobs import services

    spec = services.JobSpec(task_name=jobdeck_side.NOOP, queue="watched")
    return [job.pk for job in services.enqueue_jobs(specs=[spec] * count)]


def viewers_for(count: int, watched: list[int]) -> list[dict[str, Any]]:
    """`count` viewers: a fifth on the overview, two fifths on the lists (their filters in turn) and on job
    pages. Fewer than 10: the reference, one viewer per page (the overview, each list, one job page)."""
    from jobs.models import Job

    if count < 10:
        overview, lists, jobs = 1, len(LISTS), 1
    else:
        overview, lists = count // 5, (count * 2) // 5
        jobs = count - overview - lists
    viewers: list[dict[str, Any]] = [{"kind": "overview", "path": "/ws/overview/"}] * overview
    shown_for = {
        "": list(Job.objects.order_by("-id").values_list("id", flat=True)[:SHOWN]),
        "queue=watched": watched[:SHOWN],
        "status=queued": list(Job.objects.filter(status="queued").order_by("-id").values_list("id", flat=True)[:SHOWN]),
        "task=jobs.tasks.noop&queue=watched": watched[SHOWN : 2 * SHOWN] or watched[:SHOWN],
    }
    for i in range(lists):
        query = LISTS[i % len(LISTS)]
        ids = shown_for[query]
        path = "/ws/jobs/?" + (query + "&" if query else "") + urlencode({"ids": ",".join(map(str, ids))})
        viewers.append({"kind": "list", "filter": query or "all", "path": path, "shown": ids})
    for i in range(jobs):
        job_id = watched[i % len(watched)]
        viewers.append({"kind": "job", "path": f"/ws/jobs/{job_id}/", "job": job_id})
    return viewers


def events_of(
    job_ids: set[int], event_ids: set[int], since: int
) -> tuple[dict[int, list[tuple[float, int, str]]], dict[int, float]]:
    """The events after `since` of `job_ids` ((created_at, id, status) by job, in order), and the times of
    `event_ids`."""
    from jobs.models import JobEvent

    by_job: dict[int, list[tuple[float, int, str]]] = defaultdict(list)
    times: dict[int, float] = {}
    rows = JobEvent.objects.filter(id__gt=since).order_by("id").values_list("id", "job_id", "new_status", "created_at")
    for event_id, job_id, status, created in rows.iterator(chunk_size=10_000):
        at = created.timestamp()
        if job_id in job_ids:
            by_job[job_id].append((at, event_id, status))
        if event_id in event_ids:
            times[event_id] = at
    return by_job, times


def deliveries(
    viewers: list[dict[str, Any]], records: list[list[Any]], window: tuple[float, float], since: int
) -> dict[str, Any]:
    """Per page kind: delivery latencies of the changes each viewer shows, misses, and cursor ages."""
    start, end = window
    jobs_seen: set[int] = set()
    cursors: set[int] = set()
    for viewer, recs in zip(viewers, records, strict=True):
        jobs_seen.update(viewer.get("shown", []))
        if viewer["kind"] == "job":
            jobs_seen.add(viewer["job"])
        for _, cursor, shown in recs:
            jobs_seen.update(job_id for job_id, _ in shown)
            if cursor is not None:
                cursors.add(cursor)
    by_job, cursor_at = events_of(jobs_seen, cursors, since)
    by_status: dict[tuple[int, str], tuple[list[float], list[int]]] = {}
    for job_id, events in by_job.items():
        for created, event_id, status in events:
            times, ids = by_status.setdefault((job_id, status), ([], []))
            times.append(created)
            ids.append(event_id)

    latency: dict[str, list[float]] = defaultdict(list)
    ages: dict[str, list[float]] = defaultdict(list)
    misses: dict[str, int] = defaultdict(int)
    missed: dict[str, list[dict[str, Any]]] = defaultdict(list)  # a few examples per page kind
    changes: dict[str, int] = defaultdict(int)
    for viewer, recs in zip(viewers, records, strict=True):
        kind = viewer["kind"] if viewer["kind"] != "list" else f"list {viewer['filter']}"
        for at, cursor, _ in recs:
            if start <= at <= end and cursor in cursor_at:
                ages[kind].append(at - cursor_at[cursor])
        if viewer["kind"] == "overview":
            continue
        # Which event each message showed: the newest event of that job with that status at its arrival.
        shown_at: dict[int, list[tuple[float, int]]] = defaultdict(list)  # job -> (arrival, event id shown)
        for at, _, shown in recs:
            for job_id, status in shown:
                times, ids = by_status.get((job_id, status), ((), ()))
                i = bisect.bisect_right(times, at)
                if i:
                    shown_at[job_id].append((at, ids[i - 1]))
        scope = set(viewer.get("shown", [])) | set(shown_at) | ({viewer["job"]} if viewer["kind"] == "job" else set())
        for job_id in scope:
            # Events and arrivals both move forward: an arrival too early or too old for one event is
            # too early or too old for every later one, so one pointer walks the arrivals.
            arrivals, i = shown_at.get(job_id, []), 0
            for created, event_id, _ in by_job.get(job_id, []):
                while i < len(arrivals) and (arrivals[i][0] < created or arrivals[i][1] < event_id):
                    i += 1
                if not start <= created <= end:
                    continue
                changes[kind] += 1
                if i == len(arrivals):
                    misses[kind] += 1
                    if len(missed[kind]) < 5:
                        shown_ids = [event_id for _, event_id in arrivals[-3:]]
                        missed[kind].append({"job": job_id, "event": event_id, "last_shown_events": shown_ids})
                else:
                    latency[kind].append(arrivals[i][0] - created)
    result: dict[str, Any] = {}
    for kind in sorted(set(changes) | set(ages)):
        entry: dict[str, Any] = {"changes": changes.get(kind, 0), "misses": misses.get(kind, 0)}
        if missed.get(kind):
            entry["missed_examples"] = missed[kind]
        if latency.get(kind):
            entry["delivery"] = procs.percentiles_ms(latency[kind])
        if len(ages.get(kind, [])) > 1:
            entry["cursor_age"] = procs.percentiles_ms(ages[kind])
        result[kind] = entry
    every = [x for kind, values in latency.items() for x in values]
    if every:
        result["all changes"] = {
            "changes": sum(changes.values()),
            "misses": sum(misses.values()),
            "delivery": procs.percentiles_ms(every),
        }
    return result


def server_counts(paths: list[Path]) -> dict[str, float]:
    """bench/live_server.py's counters so far (queries, the fanout's ticks and deliveries), summed over
    the web processes (ticks a second are then those of all their tailers together)."""
    total: dict[str, float] = defaultdict(float)
    for path in paths:
        for key, value in json.loads(path.read_text()).items():
            total[key] += value
    return total


def fanout_figures(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Ticks a second, and per second of the window: the ticks' CPU and wall time (tailer thread), the
    deliveries' wall time (event loop), in ms."""
    ticks = after["ticks"] - before["ticks"]
    return {
        "ticks_per_s": round(ticks / seconds, 1),
        "tick_cpu_ms_per_s": round(1000 * (after["tick_cpu"] - before["tick_cpu"]) / seconds, 1),
        "tick_wall_ms_per_s": round(1000 * (after["tick_wall"] - before["tick_wall"]) / seconds, 1),
        "deliver_wall_ms_per_s": round(1000 * (after["deliver_wall"] - before["deliver_wall"]) / seconds, 1),
    }


def phase(name: str, count: int, args: argparse.Namespace, ctx: dict[str, Any]) -> dict[str, Any]:
    """One set of viewers measured for args.seconds under the running load."""
    from jobs import selectors

    ctx["load"].watched = watched = new_watched(args.watched)  # fresh jobs: each phase's timelines stay short
    viewers = viewers_for(count, watched)
    for n, viewer in enumerate(viewers):  # split between the web processes, each page kind evenly
        viewer["port"] = ctx["ports"][n % len(ctx["ports"])]
    spec_path, out_path = ctx["workdir"] / f"{name}-spec.json", ctx["workdir"] / f"{name}-out.json"
    spec_path.write_text(json.dumps({"cookie": ctx["cookie"], "seconds": args.seconds, "viewers": viewers}))
    since = selectors.last_event_id()
    child_proc = subprocess.Popen(  # noqa: S603 - this script, run again
        [sys.executable, __file__, "--child", str(spec_path), str(out_path)], stdout=subprocess.PIPE, text=True
    )
    assert child_proc.stdout is not None
    if child_proc.stdout.readline().strip() != "open":
        raise SystemExit(f"{name}: the viewers did not connect")
    time.sleep(WARM_UP)
    servers = [server.pid for server in ctx["servers"]]
    cpu0, wall0 = procs.tree_cpu_seconds(servers), time.time()
    viewers_cpu0, busy0 = procs.tree_cpu_seconds([child_proc.pid]), procs.machine_busy_seconds()
    counts0 = server_counts(ctx["queries"])
    done0 = jobdeck_side.status_count("done")
    sampler = procs.RssSampler(servers, interval=0.5)
    sampler.start()
    time.sleep(max(0.0, args.seconds - (time.time() - wall0)))  # counting done jobs takes a while on PostgreSQL
    cpu1, wall1 = procs.tree_cpu_seconds(servers), time.time()
    viewers_cpu1, busy1 = procs.tree_cpu_seconds([child_proc.pid]), procs.machine_busy_seconds()
    counts1 = server_counts(ctx["queries"])
    done1 = jobdeck_side.status_count("done")
    sampler.stop()
    if child_proc.stdout.readline().strip() != "done" or child_proc.wait(timeout=120) != 0:
        raise SystemExit(f"{name}: the viewers' process failed")
    out = json.loads(out_path.read_text())
    seconds = wall1 - wall0
    rss = [sum(r for r, _ in mem.values()) / 2**20 for _, mem in sampler.samples]
    return {
        "viewers": len(viewers),
        "mix": {kind: sum(v["kind"] == kind for v in viewers) for kind in ("overview", "list", "job")},
        "seconds": round(seconds, 1),
        "web_cpu_percent": round(100 * (cpu1 - cpu0) / seconds, 1),
        "web_rss_mb": {"end": round(rss[-1], 1), "peak": round(max(rss), 1)} if rss else {},
        "web_queries_per_s": round((counts1["queries"] - counts0["queries"]) / seconds, 1),
        "fanout": fanout_figures(counts0, counts1, seconds),
        "drained_per_s": round((done1 - done0) / seconds),
        "viewers_cpu_percent": round(100 * (viewers_cpu1 - viewers_cpu0) / seconds, 1),
        "machine_busy_percent": round(100 * (busy1[0] - busy0[0]) / (busy1[1] - busy0[1]), 1),
        "messages": sum(len(r) for r in out["records"]),
        "pages": deliveries(viewers, out["records"], (wall0, wall1), since),
    }


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    env = jobdeck_side.configure(args.db, workdir, args.pg_url)
    env.pop("REDIS_URL", None)
    if args.db == "postgres" and args.redis_url:
        env["REDIS_URL"] = os.environ["REDIS_URL"] = args.redis_url
    env["JOBDECK_LOG_LEVEL"] = "WARNING"
    jobdeck_side.setup_django()
    dashboard.make_user()
    from jobs import services

    watched = [
        job.pk
        for job in services.enqueue_jobs(
            specs=[services.JobSpec(task_name=jobdeck_side.NOOP, queue="watched")] * args.watched
        )
    ]
    services.enqueue_jobs(specs=[services.JobSpec(task_name=jobdeck_side.NOOP)] * 1000)  # rows for the lists
    result: dict[str, Any] = {
        "db": args.db,
        "db_version": jobdeck_side.db_version(),
        "channel_layer": "redis" if env.get("REDIS_URL") else "in-memory",
        "rate": args.rate,
        "watched": args.watched,
        "change_every": args.change_every,
        "web_processes": args.web,
    }
    ports = [web.free_port() for _ in range(args.web)]
    servers = [
        procs.start(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port)]
            + ["bench.live_server:application"],
            env=env | {"BENCH_QUERIES_FILE": str(workdir / f"queries-{n}.json")},
            log_path=workdir / f"daphne-{n}.log",
        )
        for n, port in enumerate(ports)
    ]
    workers = jobdeck_side.start_workers("process-2", env, workdir)
    load = Load(args.rate, watched, args.change_every)
    try:
        for port in ports:
            procs.wait_until(lambda port=port: _answers(port), timeout=60, what="daphne to answer")
        browser = dashboard.Browser(ports[0])
        browser.sign_in()  # the session is in the database: every web process accepts its cookie
        ctx = {"ports": ports, "cookie": browser.cookie_header(), "workdir": workdir, "load": load}
        ctx |= {"servers": servers, "queries": [workdir / f"queries-{n}.json" for n in range(args.web)]}
        load.start()
        result["reference"] = phase("reference", 1, args, ctx)
        result["many"] = phase("many", args.viewers, args, ctx)
    finally:
        load.stop()
        procs.stop([*workers, *servers])
    result["load_errors"] = load.errors
    result["daphne_log_tail"] = (workdir / "daphne-0.log").read_text()[-2000:]
    return result


def _answers(port: int) -> bool:
    try:
        return dashboard.Browser(port).request("GET", "/login/")[0] == 200
    except OSError:
        return False


def print_table(result: dict) -> None:
    print(
        f"\n{result['db']} {result['db_version']}, channel layer {result['channel_layer']},"
        f" {result.get('web_processes', 1)} web process(es);"
        f" load {result['rate']} jobs/s enqueued, {result['watched']} watched jobs each changed every"
        f" {result['change_every']} s"
    )
    for name in ("reference", "many"):
        r = result[name]
        print(
            f"\n{name}: {r['viewers']} viewers {r['mix']}, {r['seconds']} s: web CPU {r['web_cpu_percent']}%,"
            f" RSS {r['web_rss_mb']}, {r['web_queries_per_s']} queries/s, drained {r['drained_per_s']} jobs/s,"
            f" {r['messages']} messages; viewers' process CPU {r['viewers_cpu_percent']}%, machine busy"
            f" {r['machine_busy_percent']}%"
        )
        print(f"  fanout: {r['fanout']}")
        print(f"  {'delivery (ms)':34} {'changes':>8} {'misses':>7}     p50     p95     p99     max")
        for page, f in r["pages"].items():
            d = f.get("delivery")
            figures = f"{d['p50_ms']:>7.1f} {d['p95_ms']:>7.1f} {d['p99_ms']:>7.1f} {d['max_ms']:>7.1f}" if d else ""
            print(f"  {page:34} {f['changes']:>8} {f['misses']:>7} {figures}")
        print(f"  {'cursor age of each message (ms)':34} {'':>8} {'':>7}     p50     p95     p99     max")
        for page, f in r["pages"].items():
            if a := f.get("cursor_age"):
                figures = f"{a['p50_ms']:>7.1f} {a['p95_ms']:>7.1f} {a['p99_ms']:>7.1f} {a['max_ms']:>7.1f}"
                print(f"  {page:34} {'':>8} {'':>7} {figures}")
    ref = result["reference"]["pages"].get("all changes", {}).get("delivery")
    many = result["many"]["pages"].get("all changes", {}).get("delivery")
    if ref and many:
        print(
            f"\nall changes, {result['many']['viewers']} viewers against the reference:"
            f" p95 x{many['p95_ms'] / ref['p95_ms']:.2f}, p99 x{many['p99_ms'] / ref['p99_ms']:.2f}"
            f" (target p95 <= {TARGET_P95_MS} ms, p99 <= {TARGET_P99_MS} ms)"
        )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--viewers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=1000, help="jobs enqueued a second")
    parser.add_argument("--watched", type=int, default=200, help="jobs the bench changes, fresh ones each phase")
    parser.add_argument("--change-every", type=float, default=2.0, help="seconds between two changes of a watched job")
    parser.add_argument("--quick", action="store_true", help="100 viewers, 10 s")
    parser.add_argument("--web", type=int, default=1, help="web processes (daphne), the viewers split between them")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_live")
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    args = parser.parse_args()
    if args.quick:
        args.viewers, args.seconds = 100, 10.0
    web.run("live", args, measure, print_table)


if __name__ == "__main__":
    main()
