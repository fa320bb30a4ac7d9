"""/metrics read back by Prometheus' own parser (prometheus_client, a dev requirement): every family
it emits, with label values no queue or task name check would let through (quotes, backslashes,
newlines, unicode), which reach the counters from rows written by older code or by hand."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from jobs import task_stats
from jobs.engine.workers import register_worker
from jobs.models import Job, OutcomeCounter, Queue, RefusalCounter, TaskOutcomeCounter
from tests.api.conftest import ApiClient
from tests.task_helpers import finish_job

HOSTILE = 'q"uo\\te\nnew line é ✓ \\n'  # a literal backslash-n too: it must not turn into a newline
HOSTILE_TASK = 'tasks.weird"\\\nname ü'

# Every family /metrics emits, with its type: a family added to the exposition fails here until it
# is listed (and so checked), and tests/docs/test_grafana_dashboard.py reads the names from here.
FAMILIES = {
    "jobdeck_jobs": "gauge",
    "jobdeck_queue_oldest_waiting_seconds": "gauge",
    "jobdeck_queue_paused": "gauge",
    "jobdeck_queue_max_depth": "gauge",
    "jobdeck_queue_depth": "gauge",
    "jobdeck_enqueue_refused": "counter",  # the parser names a counter's family without "_total"
    "jobdeck_workers": "gauge",
    "jobdeck_workers_gone": "gauge",
    "jobdeck_job_outcomes": "counter",
    "jobdeck_task_outcomes": "counter",
    "jobdeck_attempt_run_seconds": "histogram",
    "jobdeck_job_wait_seconds": "histogram",
}


@pytest.fixture
def hostile_rows(make_job: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """One row behind every family, the queue- and task-labelled ones under hostile names."""
    finish_job(make_job)  # an attempt and a started job: the histograms have a sample each
    job = make_job(queue="plain")
    Job.objects.filter(pk=job.pk).update(queue=HOSTILE)  # the name check lives in the services
    Queue.objects.create(name=HOSTILE, paused=True, max_depth=10)
    now = timezone.now()
    RefusalCounter.objects.create(process="h:1", queue=HOSTILE, count=4, updated_at=now)
    OutcomeCounter.objects.create(process="h:1", queue=HOSTILE, new_status="done", count=3, updated_at=now)
    TaskOutcomeCounter.objects.create(process="h:1", task=HOSTILE_TASK, new_status="failed", count=2, updated_at=now)
    # The task label is bounded to tasks some registry has: pretend one has this name.
    known = task_stats.known_task_names
    monkeypatch.setattr(task_stats, "known_task_names", lambda: known() | {HOSTILE_TASK})
    register_worker(name="host:1:abc", queues=("default",), concurrency=1, worker_type="thread")


def scrape(api: ApiClient) -> dict[str, Any]:
    response = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.secret}"})
    assert response.status_code == 200
    return {family.name: family for family in text_string_to_metric_families(response.content.decode())}


def values(family: Any, name: str | None = None) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for sample in family.samples
        if name is None or sample.name == name
    }


def test_every_family_parses_with_its_type(api: ApiClient, hostile_rows: None) -> None:
    families = scrape(api)

    assert {name: family.type for name, family in families.items()} == FAMILIES
    for name, family in families.items():
        assert family.samples, f"{name} has no sample"
        assert family.documentation, f"{name} has no HELP"


def test_hostile_label_values_come_back_exactly(api: ApiClient, hostile_rows: None) -> None:
    families = scrape(api)

    assert values(families["jobdeck_jobs"])[(("queue", HOSTILE), ("state", "queued"))] == 1
    assert values(families["jobdeck_queue_paused"])[(("queue", HOSTILE),)] == 1
    assert values(families["jobdeck_queue_max_depth"]) == {(("queue", HOSTILE),): 10}
    assert values(families["jobdeck_queue_depth"]) == {(("queue", HOSTILE),): 1}
    assert values(families["jobdeck_queue_oldest_waiting_seconds"])[(("queue", HOSTILE),)] >= 0
    assert values(families["jobdeck_enqueue_refused"]) == {(("queue", HOSTILE),): 4}
    outcomes = values(families["jobdeck_job_outcomes"], "jobdeck_job_outcomes_total")
    assert outcomes[(("outcome", "done"), ("queue", HOSTILE))] == 3
    tasks = values(families["jobdeck_task_outcomes"], "jobdeck_task_outcomes_total")
    assert tasks == {(("outcome", "failed"), ("task", HOSTILE_TASK)): 2}


def test_workers_and_histograms_are_well_formed(api: ApiClient, hostile_rows: None) -> None:
    families = scrape(api)

    assert values(families["jobdeck_workers"]) == {(): 1}
    assert values(families["jobdeck_workers_gone"]) == {(): 0}
    for name in ("jobdeck_attempt_run_seconds", "jobdeck_job_wait_seconds"):
        buckets = values(families[name], f"{name}_bucket")
        bounds = sorted(float(dict(labels)["le"]) for labels in buckets)
        assert bounds[-1] == math.inf
        counts = [buckets[(("le", _le(bound)),)] for bound in bounds]
        assert counts == sorted(counts), f"{name} buckets are not cumulative"
        assert counts[-1] == values(families[name], f"{name}_count")[()] == 1
        assert values(families[name], f"{name}_sum")[()] >= 0


def _le(bound: float) -> str:
    """The `le` label as the exposition writes it (the parser keeps the text)."""
    if bound == math.inf:
        return "+Inf"
    return str(int(bound)) if bound == int(bound) and bound >= 1 else str(bound)
