"""GET /tasks/{name}: one task's figures, its 404 and 400, its bounded query count; /metrics' task label."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.tasks import task as define_task

from jobs import registry, services, task_stats, tokens
from jobs.models import Job
from jobs.status import Status
from tests.api.conftest import ApiClient
from tests.conftest import wait_until
from tests.task_helpers import finish_job, live_worker


@pytest.fixture(autouse=True)
def _fresh_figures() -> None:
    task_stats.reset()


def test_task_figures_count_outcomes_retries_errors_and_percentiles(
    api: ApiClient, make_job: Callable[..., Any]
) -> None:
    finish_job(make_job)
    finish_job(make_job)
    finish_job(make_job, to=Status.FAILED, error="builtins.KeyError: id 41 missing")
    finish_job(make_job, to=Status.FAILED, error="builtins.KeyError: id 42 missing")
    finish_job(make_job, to=Status.RETRYING, error="builtins.TimeoutError: slow")
    make_job("tests.tasks.add", queue="figures")
    make_job("tests.tasks.record_run", args=["/tmp/x"])  # another task: not counted

    body = api.get("/tasks/tests.tasks.add").json()

    assert body["name"] == "tests.tasks.add" and body["short_name"] == "add" and body["registered"] is True
    assert body["sample"] == 6 and body["covered_from"] is None
    assert body["states"] == {"done": 2, "failed": 2, "retrying": 1, "queued": 1}
    assert (body["done"], body["failed"]) == (2, 2)
    assert body["success_rate"] == 0.5 and body["failure_rate"] == 0.5
    assert [t["minutes"] for t in body["throughput"]] == [1, 5, 15, 60]
    assert body["throughput"][0] == {"minutes": 1, "finished": 4, "per_minute": 4.0, "complete": True}
    assert body["run_seconds"]["samples"] == 4 and body["wait_seconds"]["samples"] == 4
    assert [(e["error_class"], e["message"], e["count"]) for e in body["errors"]] == [
        ("builtins.TimeoutError", "slow", 1),
        ("builtins.KeyError", "id <n> missing", 2),
    ]
    assert body["errors"][1]["example"] == "id 42 missing"


def note(outcome: object) -> None:
    """A hook for all_options."""


@define_task(
    queue_name="reports",
    priority=10,
    version="2",
    max_attempts=5,
    timeout=60,
    backoff={"kind": "linear", "base": 2, "cap": 30, "jitter": 0},
    retry_on=[TimeoutError],
    discard_on=["builtins.KeyError"],
    max_snoozes=4,
    on_failure=[note, "tests.retry_tasks.record_hook"],
    unique_for=3600,
    expires_in=120,
)
def all_options() -> None:
    """Sets every option @task takes."""


def test_every_option_the_task_sets_is_shown(api: ApiClient, db: None) -> None:
    registry.register(all_options)

    body = api.get("/tasks/tests.api.test_task_detail.all_options").json()

    assert body["options"] == {
        "version": "2",
        "queue": "reports",
        "priority": 10,
        "max_attempts": 5,
        "timeout": 60,
        "backoff": {"kind": "linear", "base": 2.0, "cap": 30.0, "jitter": 0.0},
        "retry_on": ["builtins.TimeoutError"],
        "discard_on": ["builtins.KeyError"],
        "max_snoozes": 4,
        "hooks": {"on_failure": ["tests.api.test_task_detail.note", "tests.retry_tasks.record_hook"]},
        "unique_for": 3600.0,
        "expires_in": 120.0,
    }
    plain = api.get("/tasks/tests.tasks.add").json()["options"]
    assert plain["max_attempts"] is None and plain["hooks"] == {} and plain["backoff"] is None


def test_a_short_name_and_a_version_suffix_resolve_to_the_task(api: ApiClient, db: None) -> None:
    assert api.get("/tasks/add").json()["name"] == "tests.tasks.add"
    assert api.get("/tasks/tests.tasks.add@2").json()["name"] == "tests.tasks.add"


def test_unknown_task_is_a_404_and_a_malformed_name_a_400(api: ApiClient, db: None) -> None:
    missing = api.get("/tasks/no.such.task")
    malformed = api.get("/tasks/a%20b")

    assert (missing.status_code, missing.json()) == (404, {"error": "Task not found"})
    assert malformed.status_code == 400


def test_a_task_only_stored_jobs_name_is_still_shown(api: ApiClient, make_job: Callable[..., Any]) -> None:
    from jobs.models import Job

    job = make_job()
    Job.objects.filter(pk=job.pk).update(task_name="gone.tasks.old")  # its code has since been removed

    body = api.get("/tasks/gone.tasks.old").json()

    assert body["registered"] is False and body["sample"] == 1 and body["queue"] is None


def test_schedules_versions_and_the_workers_that_have_the_task(api: ApiClient, db: None) -> None:
    api.post("/schedules", {"name": "nightly", "cron": "0 3 * * *", "task": "tests.tasks.add", "args": [1, 2]})
    having = live_worker("w-new", ["tests.tasks.add@2", "tests.tasks.add@3"])
    live_worker("w-other", ["tests.tasks.record_run"])
    old = live_worker("w-old", None)  # from before workers listed their tasks: unknown

    body = api.get("/tasks/tests.tasks.add").json()

    assert [s["name"] for s in body["schedules"]] == ["nightly"]
    assert body["versions"] == ["2", "3"]
    assert [(w["name"], w["versions"]) for w in body["workers"]] == [(having, ["2", "3"]), (old, None)]


def test_a_task_only_a_live_worker_has_is_found(api: ApiClient, db: None) -> None:
    live_worker("w-newer", ["newer.tasks.only@1"])

    body = api.get("/tasks/newer.tasks.only").json()

    assert body["registered"] is False and body["versions"] == ["1"] and body["sample"] == 0
    assert body["options"] is None  # its code is not here


def test_the_figures_read_a_bounded_sample(
    api: ApiClient, make_job: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_stats, "SAMPLE", 3)
    for _ in range(5):
        finish_job(make_job)

    figures = task_stats.task_figures("tests.tasks.add", sample=3)

    assert figures.sample == 3 and figures.covered_from is not None
    assert figures.throughput[-1].complete is False  # the hour reaches before the sample


def test_task_figures_take_four_queries_then_none_while_cached(
    make_job: Callable[..., Any], django_assert_num_queries: Any
) -> None:
    services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2]))
    with django_assert_num_queries(3):  # sample, schedules, workers (a registered name needs no lookup)
        task_stats.task_figures("tests.tasks.add")
    with django_assert_num_queries(0):
        task_stats.task_figures("tests.tasks.add")


def test_metrics_count_outcomes_by_task_with_unknown_tasks_as_other(api: ApiClient, db: None) -> None:
    from django.utils import timezone

    from jobs.models import TaskOutcomeCounter

    now = timezone.now()
    for process, task, new_status, n in [
        ("w1/1", "tests.tasks.add", "done", 10),
        ("w2/2", "tests.tasks.add", "done", 2),
        ("w1/1", "tests.tasks.add", "failed", 1),
        ("w1/1", "removed.tasks.a", "done", 4),
        ("w1/1", "removed.tasks.b", "done", 5),
    ]:
        TaskOutcomeCounter.objects.create(process=process, task=task, new_status=new_status, count=n, updated_at=now)

    text = api.client.get("/metrics", headers={"Authorization": f"Bearer {api.secret}"}).content.decode()

    assert "# TYPE jobdeck_task_outcomes_total counter\n" in text
    assert 'jobdeck_task_outcomes_total{task="tests.tasks.add",outcome="done"} 12\n' in text
    assert 'jobdeck_task_outcomes_total{task="tests.tasks.add",outcome="failed"} 1\n' in text
    assert 'jobdeck_task_outcomes_total{task="other",outcome="done"} 9\n' in text
    assert "removed.tasks" not in text


@pytest.mark.workers
def test_figures_of_jobs_run_by_a_real_worker(start_workers: Any, tmp_path: Any) -> None:
    specs = [services.JobSpec(task_name="tests.tasks.add", args=[1, n]) for n in range(4)]
    specs.append(services.JobSpec(task_name="tests.tasks.fail_until", args=[str(tmp_path / "f"), 9], max_attempts=2))
    services.enqueue_jobs(specs=specs)
    worker = start_workers("-w", "2")
    wait_until(lambda: not Job.objects.active().exists())

    User.objects.create_user(username="reader", password="pw")
    api = ApiClient(tokens.create_token(username="reader", name="t")[1])
    add = api.get("/tasks/add").json()
    failing = api.get("/tasks/fail_until").json()
    worker.stop()

    assert add["states"] == {"done": 4} and add["success_rate"] == 1.0 and add["run_seconds"]["samples"] == 4
    assert add["throughput"][0]["finished"] == 4 and add["wait_seconds"]["samples"] == 4
    assert failing["states"] == {"failed": 1} and failing["failure_rate"] == 1.0
    assert failing["retried_jobs"] == 1 and failing["extra_attempts"] == 1
    assert [e["count"] for e in failing["errors"]] == [1]
