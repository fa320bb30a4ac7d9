"""GET /metrics: Prometheus text exposition of job counts, workers, waiting age and recent timings."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from jobs import selectors, task_stats
from jobs.api.auth import authenticate
from jobs.exceptions import JobdeckError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
WINDOW = 1000  # timings come from this many latest attempts / started jobs: one bounded query each


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _histogram(name: str, help_text: str, samples: Iterable[float]) -> list[str]:
    values = sorted(samples)
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    count = 0
    for bound in BUCKETS:
        while count < len(values) and values[count] <= bound:
            count += 1
        lines.append(f'{name}_bucket{{le="{bound}"}} {count}')
    lines += [
        f'{name}_bucket{{le="+Inf"}} {len(values)}',
        f"{name}_sum {sum(values):.6f}",
        f"{name}_count {len(values)}",
    ]
    return lines


def render_metrics() -> str:
    """The exposition text; eleven queries whatever the size of the job table (besides the counts' index scan)."""
    queues = selectors.queue_stats()
    lines = ["# HELP jobdeck_jobs Jobs by queue and state.", "# TYPE jobdeck_jobs gauge"]
    for name, entry in queues.items():
        lines += [f'jobdeck_jobs{{queue="{_label(name)}",state="{s}"}} {n}' for s, n in entry.counts.items()]
    lines += [
        "# HELP jobdeck_queue_oldest_waiting_seconds Age of the oldest runnable job per queue (0 when none).",
        "# TYPE jobdeck_queue_oldest_waiting_seconds gauge",
    ]
    for name, entry in queues.items():
        lines.append(
            f'jobdeck_queue_oldest_waiting_seconds{{queue="{_label(name)}"}} {entry.oldest_waiting_seconds or 0:.3f}'
        )
    lines += ["# HELP jobdeck_queue_paused 1 when the queue is paused.", "# TYPE jobdeck_queue_paused gauge"]
    lines += [f'jobdeck_queue_paused{{queue="{_label(n)}"}} {int(e.paused)}' for n, e in queues.items()]
    limited = {name: entry for name, entry in queues.items() if entry.max_depth is not None}
    lines += [
        "# HELP jobdeck_queue_max_depth Most waiting jobs (scheduled, queued, retrying) a queue accepts; only"
        " queues with a limit.",
        "# TYPE jobdeck_queue_max_depth gauge",
    ]
    lines += [f'jobdeck_queue_max_depth{{queue="{_label(n)}"}} {e.max_depth}' for n, e in limited.items()]
    lines += [
        "# HELP jobdeck_queue_depth Waiting jobs of a queue with a max depth, counted up to that limit.",
        "# TYPE jobdeck_queue_depth gauge",
    ]
    lines += [f'jobdeck_queue_depth{{queue="{_label(n)}"}} {e.depth or 0}' for n, e in limited.items()]
    lines += [
        "# HELP jobdeck_enqueue_refused_total New jobs refused because their queue was full (back-pressure).",
        "# TYPE jobdeck_enqueue_refused_total counter",
    ]
    lines += [
        f'jobdeck_enqueue_refused_total{{queue="{_label(n)}"}} {e.refused}' for n, e in queues.items() if e.refused
    ]
    alive, gone = selectors.worker_counts()
    lines += [
        "# HELP jobdeck_workers Worker processes alive: not stopped, with a heartbeat within the lease time.",
        "# TYPE jobdeck_workers gauge",
        f"jobdeck_workers {alive}",
        "# HELP jobdeck_workers_gone Worker processes gone (stopped, or silent past the lease) and not yet pruned.",
        "# TYPE jobdeck_workers_gone gauge",
        f"jobdeck_workers_gone {gone}",
    ]
    lines += [
        "# HELP jobdeck_job_outcomes_total Attempts ended, by queue and the state they moved the job to"
        " (done, retrying, failed, cancelled; queued: handed back at shutdown). Workers write their totals"
        " about every heartbeat.",
        "# TYPE jobdeck_job_outcomes_total counter",
    ]
    # The label is named "outcome" although it holds the job's new status: it is the metric's wire
    # contract (dashboards and alerts select on it), and its HELP line says what it holds.
    lines += [
        f'jobdeck_job_outcomes_total{{queue="{_label(queue)}",outcome="{_label(new_status)}"}} {total}'
        for (queue, new_status), total in sorted(selectors.outcome_totals().items())
    ]
    lines += [
        "# HELP jobdeck_task_outcomes_total Attempts ended, by task and the state they moved the job to;"
        f' tasks no registry or live worker has are summed as task="{task_stats.OTHER}".',
        "# TYPE jobdeck_task_outcomes_total counter",
    ]
    lines += [
        f'jobdeck_task_outcomes_total{{task="{_label(task)}",outcome="{_label(new_status)}"}} {total}'
        for (task, new_status), total in sorted(task_stats.task_outcome_totals().items())
    ]
    window = f"over the latest {WINDOW} (a sliding window, not a counter: use histogram_quantile without rate())"
    run = [seconds for _, seconds in selectors.run_samples(limit=WINDOW)]
    wait = [seconds for _, seconds in selectors.wait_samples(limit=WINDOW)]
    lines += _histogram("jobdeck_attempt_run_seconds", f"How long attempts ran, {window}.", run)
    lines += _histogram(
        "jobdeck_job_wait_seconds", f"How long started jobs waited from runnable to start, {window}.", wait
    )
    return "\n".join(lines) + "\n"


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics; needs a token or a logged-in session like the API."""
    try:
        authenticate(request)
    except JobdeckError as exc:
        response = JsonResponse({"error": exc.message}, status=exc.status_code)
        if exc.status_code == 401:
            response["WWW-Authenticate"] = 'Bearer realm="jobdeck"'
        return response
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE)
