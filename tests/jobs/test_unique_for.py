"""unique_for: an idempotency key keeps answering with its job for a period after the job finished.

Service-level rules first, then the races: parallel enqueues in threads and in processes while a
real worker finishes the job, on whichever database the suite runs (SQLite or PostgreSQL).
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone

from jobs import registry, services, states
from jobs.models import Job
from jobs.services import JobSpec
from jobs.status import Status
from tests.conftest import ROOT, WorkerProc, worker_env


@task(unique_for=60)  # type: ignore[call-overload]  # django-stubs knows Django's Task options only
def unique_report(day: str) -> str:
    return day


@pytest.fixture(autouse=True)
def _register_unique_report() -> None:
    registry.register(unique_report)


def enqueue(**fields: Any) -> Job:
    fields.setdefault("task_name", "tests.tasks.add")
    fields.setdefault("args", [1, 2])
    return services.enqueue_job(spec=JobSpec(**fields), actor="alice")


def finish(job: Job, to: str = Status.DONE) -> Job:
    """Claim `job` (the only runnable one) and store its outcome, as a worker would."""
    claimed = states.claim_next(queues=[job.queue], worker="test-worker", lease_seconds=30)
    assert claimed is not None and claimed.id == job.pk
    assert states.record(states.Finish(claimed, to, "test", result=3))
    return Job.objects.get(pk=job.pk)


def age(job: Job, seconds: float) -> None:
    """Pretend `job` finished `seconds` ago (time travel without sleeping)."""
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now() - datetime.timedelta(seconds=seconds))


# --- Rules --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_key_answers_with_the_finished_job_within_unique_for() -> None:
    first = finish(enqueue(idempotency_key="report-1", unique_for=60))

    again = enqueue(idempotency_key="report-1", unique_for=60)

    assert again.pk == first.pk
    assert Job.objects.count() == 1
    assert first.key_held is True
    assert first.unique_until == first.finished_at + datetime.timedelta(seconds=60)


@pytest.mark.django_db
@pytest.mark.parametrize("outcome", [Status.DONE, Status.FAILED, Status.CANCELLED])
def test_every_finish_holds_the_key(outcome: str) -> None:
    first = finish(enqueue(idempotency_key="k", unique_for=60, max_attempts=1), to=outcome)

    assert enqueue(idempotency_key="k").pk == first.pk  # an enqueue without unique_for too


@pytest.mark.django_db
def test_after_unique_for_a_new_job_takes_the_key_and_the_old_one_lets_go() -> None:
    first = finish(enqueue(idempotency_key="k", unique_for=60))
    age(first, 61)

    second = enqueue(idempotency_key="k", unique_for=60)

    assert second.pk != first.pk
    assert second.status == Status.QUEUED
    first.refresh_from_db()
    assert first.key_held is False
    assert enqueue(idempotency_key="k").pk == second.pk


@pytest.mark.django_db
def test_without_unique_for_a_finished_job_frees_its_key_as_before() -> None:
    first = finish(enqueue(idempotency_key="k"))

    assert enqueue(idempotency_key="k").pk != first.pk


@pytest.mark.django_db
def test_the_holding_job_decides_the_period() -> None:
    """A key held by a job without unique_for is free once that job finishes, whatever later
    enqueues ask for; the period is the holder's."""
    first = enqueue(idempotency_key="k")
    assert enqueue(idempotency_key="k", unique_for=60).pk == first.pk
    finish(first)

    second = enqueue(idempotency_key="k", unique_for=60)

    assert second.pk != first.pk and second.unique_for == 60


@pytest.mark.django_db
def test_without_a_key_the_task_and_arguments_make_one() -> None:
    first = enqueue(args=[1, 2], kwargs={}, unique_for=datetime.timedelta(minutes=5))

    assert first.unique_for == 300
    assert first.idempotency_key is not None and first.idempotency_key.startswith("tests.tasks.add:")
    assert enqueue(args=[1, 2], unique_for=300).pk == first.pk
    assert enqueue(args=[2, 1], unique_for=300).pk != first.pk


@pytest.mark.django_db
def test_a_task_with_unique_for_enqueued_through_django_tasks_is_one_job() -> None:
    first = unique_report.enqueue("2030-01-01")
    finish(Job.objects.get(pk=int(first.id)))

    second = unique_report.enqueue("2030-01-01")
    other_day = unique_report.enqueue("2030-01-02")

    assert second.id == first.id
    assert other_day.id != first.id
    assert Job.objects.get(pk=int(first.id)).unique_for == 60


@pytest.mark.django_db
def test_bulk_enqueue_honours_unique_for() -> None:
    first = finish(enqueue(idempotency_key="k", unique_for=60))

    new = services.enqueue_jobs(
        specs=[
            JobSpec(task_name="tests.tasks.add", args=[1, 2], idempotency_key="k", unique_for=60),
            JobSpec(task_name="tests.tasks.add", args=[5, 5], unique_for=60),
            JobSpec(task_name="tests.tasks.add", args=[5, 5], unique_for=60),
        ]
    )

    assert new[0].pk == first.pk
    assert new[1].pk == new[2].pk != first.pk
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_a_manual_retry_of_a_held_job_keeps_its_key_and_a_new_window() -> None:
    first = finish(enqueue(idempotency_key="k", unique_for=60))
    age(first, 61)
    services.retry_job(job_id=first.pk)
    finish(first)  # finished again just now: a fresh window

    assert enqueue(idempotency_key="k", unique_for=60).pk == first.pk


@pytest.mark.django_db
def test_the_key_lookup_uses_the_key_index(make_job: Callable[..., Job]) -> None:
    for n in range(50):
        make_job(args=[n, n], idempotency_key=f"k-{n}", unique_for=60)
    qs = Job.objects.key_holder("k-7")[:1]

    plan = qs.explain()

    assert "job_idempotency_key_held" in plan, plan
    assert [job.idempotency_key for job in qs] == ["k-7"]


# --- Races --------------------------------------------------------------------------------------


def run_threads(count: int, target: Callable[[], int]) -> tuple[list[int], list[BaseException]]:
    barrier = threading.Barrier(count)
    ids: list[int] = []
    errors: list[BaseException] = []

    def body() -> None:
        try:
            barrier.wait(timeout=10)
            ids.append(target())
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return ids, errors


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_just_after_unique_for_passed_create_one_new_job() -> None:
    """Every thread finds the old job's period over and releases it; the index lets one insert."""
    first = finish(enqueue(idempotency_key="k", unique_for=60))
    age(first, 61)

    ids, errors = run_threads(20, lambda: enqueue(idempotency_key="k", unique_for=60).pk)

    assert errors == []
    assert len(ids) == 20 and len(set(ids)) == 1
    assert ids[0] != first.pk
    assert Job.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_twenty_threads_while_the_job_finishes_see_one_job() -> None:
    """The job finishes while the enqueues run: whether each reads it unfinished or finished, the
    key answers with it."""
    first = enqueue(idempotency_key="k", unique_for=60)
    claimed = states.claim_next(queues=["default"], worker="test-worker", lease_seconds=30)
    assert claimed is not None
    counter = iter(range(1000))

    def enqueue_or_finish() -> int:
        if next(counter) == 10:  # one thread finishes the job amid the enqueues
            assert states.record(states.Finish(claimed, Status.DONE, "done", result=3))
        return enqueue(idempotency_key="k", unique_for=60).pk

    ids, errors = run_threads(20, enqueue_or_finish)

    assert errors == []
    assert set(ids) == {first.pk}
    assert Job.objects.get().status == Status.DONE


ENQUEUE_LOOP = """
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django.setup()
from jobs import registry, services
from jobs.services import JobSpec
registry.all_tasks()
start, until = float(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0, start - time.time()))
ids = set()
rounds = 0
while rounds < 30 or time.time() < until:  # at least 30 enqueues, even after a slow start-up
    rounds += 1
    spec = JobSpec(task_name="tests.tasks.add", args=[1, 2], idempotency_key="order-7", unique_for=600)
    ids.add(services.enqueue_job(spec=spec).pk)
print(" ".join(map(str, sorted(ids))), "|", time.time())
"""


@pytest.mark.django_db(transaction=True)
def test_twenty_processes_enqueueing_while_a_worker_runs_the_job_make_one_job(
    start_workers: Callable[..., WorkerProc],
) -> None:
    """20 processes enqueue one key over and over while a real worker claims and finishes the job
    at once: before, during and after the run, every enqueue answers with the same job."""
    start_workers("--concurrency", "2")
    start = time.time() + 8  # after every process has started up (20 at once on a busy machine)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ENQUEUE_LOOP, str(start), str(start + 2.5)],
            cwd=ROOT,
            env=worker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(20)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]

    assert [p.returncode for p in procs] == [0] * 20, outputs
    ids = {int(i) for out, _ in outputs for i in out.split("|")[0].split()}
    last_enqueue = max(float(out.split("|")[1]) for out, _ in outputs)
    assert len(ids) == 1, outputs
    job = Job.objects.get()
    assert ids == {job.pk}
    # The worker ran it while the enqueues went on (they lasted seconds; the job, milliseconds).
    assert job.status == Status.DONE and job.attempt == 1
    assert job.finished_at is not None and job.finished_at.timestamp() < last_enqueue


@pytest.mark.django_db(transaction=True)
def test_a_key_released_inside_a_caller_transaction_still_makes_one_job() -> None:
    """enqueue_job joins the caller's transaction; the release and the insert roll back with it."""
    first = finish(enqueue(idempotency_key="k", unique_for=60))
    age(first, 61)

    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(idempotency_key="k", unique_for=60)
        raise RuntimeError("the caller changes its mind")

    first.refresh_from_db()
    assert first.key_held is True
    assert Job.objects.count() == 1
