"""Versioned tasks: the version a job records, `name@version` on enqueue, the claim that leaves a job
to a worker that has its task at its version, the registry each worker records, and why a job waits.
The rolling deploy runs two real worker processes with two versions of one task on one queue."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.db import connection
from django.tasks import task
from django.tasks.exceptions import InvalidTask

from jobs import registry, selectors, services, states
from jobs.backend import JobdeckTask
from jobs.engine.workers import register_worker
from jobs.exceptions import InvalidJob, UnknownTask
from jobs.models import Attempt, Job, JobEvent, WorkerProcess
from jobs.status import Status
from jobs.waiting import waiting_reason
from tests import versioned_tasks
from tests.conftest import WorkerProc, wait_until
from tests.engine.test_claim_plan import claim_select, explain

REPORT = "tests.versioned_tasks.report"
VERSION_ERROR = "version must be 1-64 characters of letters, digits, '.', '_' or '-'"


@pytest.fixture(autouse=True)
def _versioned_task_registered() -> None:
    registry.register(versioned_tasks.report)  # version "1" in this process


def enqueue(name: str = REPORT, *, version: str | None = None, queue: str = "rolling", n: int = 0) -> Job:
    return services.enqueue_job(spec=services.JobSpec(task_name=name, version=version, args=[n], queue=queue))


def claim(*, queue: str = "rolling", tasks: list[str] | None) -> states.ClaimedJob | None:
    return states.claim_next(queues=[queue], worker="w", lease_seconds=30, tasks=tasks)


# --- the rules, no database ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("a.tasks.sync", ("a.tasks.sync", None)),
        ("a.tasks.sync@2", ("a.tasks.sync", "2")),
        ("sync@v1.2-b_c", ("sync", "v1.2-b_c")),
    ],
)
def test_split_ref_reads_name_and_version(ref: str, expected: tuple[str, str | None]) -> None:
    assert registry.split_ref(ref) == expected


@pytest.mark.parametrize("ref", ["a.tasks.sync@", "a.tasks.sync@2@3", "a.tasks.sync@two words", "x@" + "9" * 65])
def test_split_ref_refuses_a_malformed_version(ref: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        registry.split_ref(ref)
    assert caught.value.message == VERSION_ERROR


def test_versions_are_text_or_whole_numbers() -> None:
    assert registry.is_version("2") and registry.is_version(2) and registry.is_version("2024.10-rc_1")
    assert not registry.is_version(True) and not registry.is_version(2.5) and not registry.is_version("")
    assert not registry.is_version("2\n")
    assert registry.task_ref("a.b", "") == "a.b" and registry.task_ref("a.b", "2") == "a.b@2"
    assert registry.claim_keys(["a.b", "a.c@2"]) == ["a.b@", "a.c@2"]


def sync() -> None:
    """A module-level function to wrap as a task (Django refuses nested ones)."""


def test_a_task_declares_its_version_as_text_or_a_number() -> None:
    assert isinstance(task(version=3)(sync), JobdeckTask)
    assert registry.version_of(task(version=3)(sync)) == "3"
    assert registry.version_of(task()(sync)) == ""


def test_a_malformed_task_version_is_refused_when_the_task_is_defined(db: None) -> None:
    with pytest.raises(InvalidTask, match="version must be 1-64 characters"):
        task(version="not ok")(sync)


# --- enqueue -------------------------------------------------------------------------------------


def test_a_job_records_its_tasks_version(db: None) -> None:
    assert enqueue().task_version == "1"
    assert Job.objects.get(task_name=REPORT).task_version == "1"
    assert services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2])).task_version == ""


def test_the_caller_may_name_the_version_either_way(db: None) -> None:
    assert enqueue(f"{REPORT}@2").task_version == "2"
    assert enqueue("report@2").task_name == REPORT  # the short name takes a version too
    assert enqueue(version="3").task_version == "3"
    assert enqueue(f"{REPORT}@2", version="2").task_version == "2"  # the same twice is no conflict
    assert enqueue(version="").task_version == ""  # the unversioned task, explicitly


def test_a_version_this_process_does_not_have_is_accepted_and_waits(db: None) -> None:
    """Rolling deploy: the web tier may be older than the workers that have the version."""
    job = enqueue(f"{REPORT}@99")

    assert (job.status, job.task_version) == (Status.QUEUED, "99")


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        (f"{REPORT}@2", "3", "the task is named at version '2' but version is '3': give one"),
        (f"{REPORT}@", None, VERSION_ERROR),
        (f"{REPORT}@a b", None, VERSION_ERROR),
        (REPORT, "x" * 65, VERSION_ERROR),
        (REPORT, "a/b", VERSION_ERROR),
    ],
)
def test_conflicting_or_malformed_versions_are_refused(db: None, name: str, version: str | None, message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        enqueue(name, version=version)
    assert (caught.value.status_code, caught.value.message) == (400, message)
    assert not Job.objects.exists()


def test_an_unknown_task_is_still_refused_with_or_without_a_version(db: None) -> None:
    with pytest.raises(UnknownTask, match="Unknown task 'nope'"):
        enqueue("nope@2")


def test_bulk_enqueue_records_each_jobs_version(db: None) -> None:
    specs = [services.JobSpec(task_name=f"{REPORT}@{v}", args=[n]) for n, v in enumerate(["1", "2", "1"])]
    new = services.enqueue_jobs(specs=specs)

    assert [j.task_version for j in Job.objects.filter(pk__in=[j.pk for j in new]).order_by("id")] == ["1", "2", "1"]


def test_the_django_tasks_api_records_the_version(db: None) -> None:
    result = versioned_tasks.report.enqueue(5)

    assert Job.objects.get(pk=int(result.id)).task_version == "1"


# --- the claim -----------------------------------------------------------------------------------


def test_a_worker_claims_only_jobs_of_tasks_and_versions_it_has(db: None) -> None:
    v2 = enqueue(version="2")
    v1 = enqueue(version="1")
    plain = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="rolling"))

    assert claim(tasks=[f"{REPORT}@3", "tests.tasks.echo"]) is None
    first = claim(tasks=[f"{REPORT}@1", "tests.tasks.add"])
    second = claim(tasks=[f"{REPORT}@1", "tests.tasks.add"])
    assert (first and first.id, first and first.task_version) == (v1.pk, "1")
    assert second is not None and second.id == plain.pk and second.task_version == ""
    assert claim(tasks=[f"{REPORT}@1", "tests.tasks.add"]) is None  # v2 is left to a worker that has it
    assert Job.objects.get(pk=v2.pk).status == Status.QUEUED


def test_an_unversioned_task_claims_only_unversioned_jobs(db: None) -> None:
    enqueue(version="1")
    unversioned = enqueue(version="")

    claimed = claim(tasks=[REPORT])

    assert claimed is not None and claimed.id == unversioned.pk
    assert claim(tasks=[REPORT]) is None


def test_a_worker_with_no_tasks_claims_nothing(db: None) -> None:
    enqueue()

    assert claim(tasks=[]) is None


def test_without_a_task_list_a_claim_takes_any_task_as_before(db: None) -> None:
    job = enqueue(version="7")

    claimed = claim(tasks=None)

    assert claimed is not None and claimed.id == job.pk


def test_finish_and_claim_filters_by_task_too(db: None) -> None:
    enqueue(version="2")
    one = enqueue(version="1")

    _, claimed = states.finish_and_claim(None, queues=["rolling"], worker="w", lease_seconds=30, tasks=[f"{REPORT}@1"])

    assert claimed is not None and claimed.id == one.pk


def test_has_runnable_sees_only_jobs_the_worker_can_claim(db: None) -> None:
    enqueue(version="2")

    assert selectors.has_runnable(["rolling"])
    assert selectors.has_runnable(["rolling"], [f"{REPORT}@2"])
    assert not selectors.has_runnable(["rolling"], [f"{REPORT}@1", "tests.tasks.add"])


def test_the_claim_with_a_task_list_still_walks_the_claim_index(make_job: Callable[..., Job]) -> None:
    for priority in (0, 5, -5):
        make_job(priority=priority)
        enqueue(queue="default", version="2")

    plan = explain(*claim_select(tasks=["tests.tasks.add", f"{REPORT}@2"]))

    text = "\n".join(plan)
    if connection.vendor == "postgresql":
        assert re.search(r"Index (Only )?Scan using job_claim_idx on jobs_job j\b", text), text
        assert not re.search(r"^\s*(->\s*)?(Incremental )?Sort\b", text, re.MULTILINE), text
    else:
        assert any("USING INDEX job_claim_idx" in line for line in plan), text
        assert "TEMP B-TREE" not in text, text


# --- the registry workers record, and why a job waits -------------------------------------------


def test_worker_tasks_lists_every_registered_task_with_its_version(db: None) -> None:
    refs = registry.worker_tasks()

    assert f"{REPORT}@1" in refs and "tests.tasks.add" in refs


def test_a_job_no_live_worker_can_run_says_which_task_it_waits_for(db: None) -> None:
    job = enqueue(version="2")
    assert waiting_reason(job) == f"Waiting for a worker that has task {REPORT}@2"

    register_worker(name="old", queues=("rolling",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@1"])
    register_worker(name="other-queue", queues=("x",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@2"])
    assert waiting_reason(job) == (
        f"Waiting for a worker that has task {REPORT}@2 (workers serving 'rolling' have {REPORT}@1)"
    )

    register_worker(name="new", queues=("rolling",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@2"])
    assert waiting_reason(job) is None


def test_a_worker_from_before_versioned_tasks_claims_anything_so_nothing_is_said(db: None) -> None:
    job = enqueue(version="2")
    register_worker(name="legacy", queues=("rolling",), concurrency=1, worker_type="thread", tasks=None)

    assert waiting_reason(job) is None


def test_only_queued_jobs_have_this_reason(db: None) -> None:
    job = enqueue(version="2")
    services.cancel_job(job_id=job.pk)

    assert waiting_reason(Job.objects.get(pk=job.pk)) is None


def test_task_workers_maps_each_task_version_to_its_live_workers(db: None) -> None:
    register_worker(name="a", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@1", "x.y"])
    register_worker(name="b", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@2"])
    register_worker(name="legacy", queues=("q",), concurrency=1, worker_type="thread")
    gone = register_worker(name="gone", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@0"])
    WorkerProcess.objects.filter(pk=gone.pk).update(stopped_at=gone.started_at)

    assert selectors.task_workers() == {REPORT: {"1": ["a"], "2": ["b"]}, "x.y": {"": ["a"]}}


# --- a rolling deploy: real workers --------------------------------------------------------------


def start_version(start_workers: Callable[..., WorkerProc], version: str) -> str:
    """A runworkers process whose code has `report` at `version`; returns its worker name."""
    worker = start_workers(
        "--queues",
        "rolling",
        "--workers",
        "2",
        JOBDECK_TASK_MODULES="tests.tasks,tests.versioned_tasks",
        JOBDECK_TEST_TASK_VERSION=version,
    )
    row = WorkerProcess.objects.get(pid=worker.pid)
    assert row.tasks is not None and f"{REPORT}@{version}" in row.tasks and "tests.tasks.add" in row.tasks
    return row.name


def test_rolling_deploy_two_versions_on_one_queue_each_job_runs_on_its_version(
    start_workers: Callable[..., WorkerProc],
) -> None:
    # Its task exists nowhere: renamed before any worker runs (a running version-1 worker could
    # otherwise claim it between the enqueue and the rename).
    gone = enqueue(version="1")
    Job.objects.filter(pk=gone.pk).update(task_name="retired.tasks.report")
    workers = {"1": start_version(start_workers, "1"), "2": start_version(start_workers, "2")}
    specs = [services.JobSpec(task_name=f"{REPORT}@{1 + n % 2}", args=[n], queue="rolling") for n in range(60)]
    ids = [j.pk for j in services.enqueue_jobs(specs=specs)]
    newer = enqueue(version="3")  # no worker has it yet

    def finished() -> bool:
        return Job.objects.filter(pk__in=ids, status=Status.DONE).count() == len(ids)

    wait_until(finished, timeout=60, message="the jobs of both versions did not all finish")
    for job in Job.objects.filter(pk__in=ids):
        assert job.result == {"n": job.args[0], "version": job.task_version}
        assert job.worker == workers[job.task_version]
    attempts = Attempt.objects.filter(job_id__in=ids)
    assert attempts.count() == len(ids)  # one attempt each: none claimed by the wrong worker and failed
    for attempt in attempts.select_related("job"):
        assert attempt.worker == workers[attempt.job.task_version]
    claims = JobEvent.objects.filter(job_id__in=ids, reason="claimed")
    assert {(e.job_id, e.actor) for e in claims} == {
        (j.pk, workers[j.task_version]) for j in Job.objects.filter(pk__in=ids)
    }

    # Old workers leave the newer version alone; the job whose task exists nowhere waits, not failed.
    for waiting, reason in (
        (
            newer,
            f"Waiting for a worker that has task {REPORT}@3 (workers serving 'rolling' have {REPORT}@1, {REPORT}@2)",
        ),
        (gone, "Waiting for a worker that has task retired.tasks.report@1"),
    ):
        job = Job.objects.get(pk=waiting.pk)
        assert (job.status, job.attempt) == (Status.QUEUED, 0)
        assert waiting_reason(job) == reason

    # The new version's worker arrives and takes it.
    workers["3"] = start_version(start_workers, "3")
    wait_until(lambda: Job.objects.get(pk=newer.pk).status == Status.DONE, timeout=30)
    job = Job.objects.get(pk=newer.pk)
    assert (job.worker, job.result) == (workers["3"], {"n": 0, "version": "3"})
    assert Job.objects.get(pk=gone.pk).status == Status.QUEUED


@pytest.mark.parametrize("worker_type", ["thread", "process"])
def test_a_worker_without_the_versioned_module_leaves_its_jobs_waiting(
    start_workers: Callable[..., WorkerProc], worker_type: str
) -> None:
    job = enqueue(version="1")
    worker = start_workers("--queues", "rolling", "--worker-type", worker_type)  # tests.tasks only: no `report`
    marker = services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="rolling"))

    wait_until(lambda: Job.objects.get(pk=marker.pk).status == Status.DONE, timeout=30)
    job = Job.objects.get(pk=job.pk)
    assert (job.status, job.attempt, job.last_error) == (Status.QUEUED, 0, "")
    assert waiting_reason(job) == f"Waiting for a worker that has task {REPORT}@1"
    assert "task not found" not in worker.log()
