"""services.enqueue_job and services.enqueue_jobs: validation, defaults, scheduling, idempotency, atomicity."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.tasks import task
from django.utils import timezone

from jobs import registry, services, states
from jobs.exceptions import InvalidJob, UnknownTask
from jobs.models import Job, JobEvent
from jobs.services import JobSpec
from jobs.status import Status

QUEUE_ERROR = "queue must be 1-100 characters of letters, digits, '_', '.', ':' or '-'"
PRIORITY_ERROR = "priority must be a whole number between -100 and 100, or high, medium or low"
UNIQUE_FOR_ERROR = "unique_for must be a positive number of seconds (at most ten years)"
EXPIRES_IN_ERROR = "expires_in must be a positive number of seconds (at most ten years)"
NEVER_STARTS = "expires_at must be after run_at and after now: the job could never start"
ATTEMPTS_ERROR = "max_attempts must be a whole number between 1 and 1000"
DELAY_ERROR = "delay must be a non-negative number of seconds"
KEY_ERROR = "idempotency_key must be a string of 1-255 characters"
TIMEOUT_ERROR = "timeout must be a positive number of seconds"
NOT_JSON = "payload is not JSON-serialisable: "


@task(queue_name="reports", priority=7)
def weekly_report() -> str:
    return "report"


@pytest.fixture(autouse=True)
def _register_weekly_report() -> None:
    registry.register(weekly_report)


def spec(**fields: Any) -> JobSpec:
    fields.setdefault("task_name", "tests.tasks.add")
    fields.setdefault("args", [1, 2])
    return JobSpec(**fields)


def enqueue(**fields: Any) -> Job:
    return services.enqueue_job(spec=spec(**fields), actor="alice")


def assert_nothing_written() -> None:
    assert Job.objects.count() == 0
    assert JobEvent.objects.count() == 0


# --- Validation: a clear error, nothing written ---------------------------------------------------------

NAIVE = datetime.datetime(2030, 1, 1, 12, 0)  # noqa: DTZ001 - naive on purpose
LATER = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)

BAD_SPECS: dict[str, tuple[dict[str, Any], str]] = {
    "set-in-kwargs": ({"kwargs": {"tags": {1, 2}}}, NOT_JSON + "Object of type set is not JSON serializable"),
    "object-in-args": ({"args": [object()]}, NOT_JSON + "Object of type object is not JSON serializable"),
    "nan-in-kwargs": (
        {"kwargs": {"x": float("nan")}},
        NOT_JSON + "Out of range float values are not JSON compliant: nan",
    ),
    "inf-in-args": ({"args": [float("inf")]}, NOT_JSON + "Out of range float values are not JSON compliant: inf"),
    "kwargs-not-a-dict": ({"kwargs": [1, 2]}, "payload must be a JSON object"),
    "args-not-a-list": ({"args": "12"}, "args must be a list"),
    "priority-too-high": ({"priority": 101}, PRIORITY_ERROR),
    "priority-too-low": ({"priority": -101}, PRIORITY_ERROR),
    "priority-float": ({"priority": 1.5}, PRIORITY_ERROR),
    "priority-string": ({"priority": "5"}, PRIORITY_ERROR),
    "priority-bool": ({"priority": True}, PRIORITY_ERROR),
    "priority-unknown-name": ({"priority": "urgent"}, PRIORITY_ERROR),
    "priority-name-case": ({"priority": "HIGH"}, PRIORITY_ERROR),
    "unique-for-zero": ({"unique_for": 0}, UNIQUE_FOR_ERROR),
    "unique-for-negative-timedelta": ({"unique_for": datetime.timedelta(seconds=-1)}, UNIQUE_FOR_ERROR),
    "unique-for-string": ({"unique_for": "60"}, UNIQUE_FOR_ERROR),
    "unique-for-too-long": ({"unique_for": 11 * 365 * 86400}, UNIQUE_FOR_ERROR),
    "expires-both": ({"expires_at": LATER, "expires_in": 60}, "give expires_at or expires_in, not both"),
    "expires-at-naive": ({"expires_at": NAIVE}, "expires_at must be timezone-aware"),
    "expires-at-past": ({"expires_at": LATER.replace(year=2020)}, NEVER_STARTS),
    "expires-at-before-run-at": ({"run_at": LATER, "expires_at": LATER}, NEVER_STARTS),
    "expires-in-zero": ({"expires_in": 0}, EXPIRES_IN_ERROR),
    "expires-in-nan": ({"expires_in": float("nan")}, EXPIRES_IN_ERROR),
    "max-attempts-zero": ({"max_attempts": 0}, ATTEMPTS_ERROR),
    "max-attempts-negative": ({"max_attempts": -1}, ATTEMPTS_ERROR),
    "max-attempts-bool": ({"max_attempts": True}, ATTEMPTS_ERROR),
    "max-attempts-huge": ({"max_attempts": 1001}, ATTEMPTS_ERROR),
    "run-at-naive": ({"run_at": NAIVE}, "run_at must be timezone-aware"),
    "run-at-string": ({"run_at": "2030-01-01T12:00:00Z"}, "run_at must be a datetime"),
    "run-at-and-delay": ({"run_at": LATER, "delay": 10}, "give run_at or delay, not both"),
    "delay-negative": ({"delay": -1}, DELAY_ERROR),
    "delay-nan": ({"delay": float("nan")}, DELAY_ERROR),
    "delay-string": ({"delay": "10"}, DELAY_ERROR),
    "queue-empty": ({"queue": ""}, QUEUE_ERROR),
    "queue-space": ({"queue": "bad queue"}, QUEUE_ERROR),
    "queue-too-long": ({"queue": "q" * 101}, QUEUE_ERROR),
    "queue-not-str": ({"queue": 5}, QUEUE_ERROR),
    "key-empty": ({"idempotency_key": ""}, KEY_ERROR),
    "key-too-long": ({"idempotency_key": "k" * 256}, KEY_ERROR),
    "key-not-str": ({"idempotency_key": 42}, KEY_ERROR),
    "timeout-zero": ({"timeout": 0}, TIMEOUT_ERROR),
    "timeout-nan": ({"timeout": float("nan")}, TIMEOUT_ERROR),
}


@pytest.mark.parametrize(("fields", "message"), list(BAD_SPECS.values()), ids=list(BAD_SPECS))
@pytest.mark.django_db
def test_bad_spec_raises_invalid_job_and_writes_nothing(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob) as caught:
        enqueue(**fields)

    assert caught.value.message == message
    assert caught.value.status_code == 400
    assert_nothing_written()


@pytest.mark.django_db
def test_unknown_task_raises_unknown_task_and_writes_nothing() -> None:
    with pytest.raises(UnknownTask) as caught:
        enqueue(task_name="tests.tasks.no_such_task")

    assert caught.value.message == "Unknown task 'tests.tasks.no_such_task'"
    assert_nothing_written()


# --- What gets stored ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enqueue_stores_queued_job_with_creation_event() -> None:
    before = timezone.now()

    job = enqueue(kwargs={}, args=[1, 2])

    stored = Job.objects.get(pk=job.pk)
    assert (stored.task_name, stored.args, stored.payload) == ("tests.tasks.add", [1, 2], {})
    assert (stored.status, stored.queue, stored.priority) == (Status.QUEUED, "default", 0)
    assert (stored.attempt, stored.max_attempts, stored.timeout, stored.idempotency_key) == (0, 3, None, None)
    after = timezone.now()
    assert before <= stored.run_at <= after
    assert before <= stored.created_at <= after
    assert list(JobEvent.objects.values_list("job_id", "old_status", "new_status", "reason", "actor")) == [
        (job.pk, "", "queued", "enqueued", "alice")
    ]


@pytest.mark.django_db
def test_queue_and_priority_default_to_the_tasks_own() -> None:
    job = enqueue(task_name=weekly_report.module_path, args=[])

    assert (job.queue, job.priority) == ("reports", 7)


@pytest.mark.django_db
def test_explicit_queue_and_priority_override_the_tasks_even_when_falsy() -> None:
    job = enqueue(task_name=weekly_report.module_path, args=[], queue="urgent", priority=0)

    assert (job.queue, job.priority) == ("urgent", 0)


@pytest.mark.django_db
def test_task_can_be_named_by_its_short_name_when_unambiguous() -> None:
    assert enqueue(task_name="weekly_report", args=[]).task_name == weekly_report.module_path


@pytest.mark.django_db
def test_max_attempts_defaults_to_the_setting(settings) -> None:  # noqa: ANN001
    settings.JOBDECK_DEFAULT_MAX_ATTEMPTS = 5

    assert enqueue().max_attempts == 5


@pytest.mark.django_db
def test_delay_in_future_schedules_the_job() -> None:
    before = timezone.now()

    job = enqueue(delay=90)

    assert job.status == Status.SCHEDULED
    assert before + datetime.timedelta(seconds=90) <= job.run_at <= timezone.now() + datetime.timedelta(seconds=90)
    assert list(JobEvent.objects.values_list("old_status", "new_status")) == [("", "scheduled")]


@pytest.mark.django_db
def test_run_at_in_future_schedules_the_job_at_that_time() -> None:
    job = enqueue(run_at=LATER)

    assert (Job.objects.get(pk=job.pk).status, Job.objects.get(pk=job.pk).run_at) == (Status.SCHEDULED, LATER)


@pytest.mark.django_db
def test_run_at_in_past_queues_the_job_keeping_its_run_at() -> None:
    past = timezone.now() - datetime.timedelta(hours=1)

    job = enqueue(run_at=past)

    assert (job.status, job.run_at) == (Status.QUEUED, past)


@pytest.mark.django_db
def test_zero_delay_queues_the_job() -> None:
    assert enqueue(delay=0).status == Status.QUEUED


# --- Idempotency ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_same_idempotency_key_returns_the_first_job_while_it_waits() -> None:
    first = enqueue(idempotency_key="invoice-42")

    second = enqueue(idempotency_key="invoice-42", args=[5, 5])

    assert second.pk == first.pk
    assert second.args == [1, 2]
    assert Job.objects.count() == 1
    assert JobEvent.objects.count() == 1


@pytest.mark.django_db
def test_same_idempotency_key_returns_the_first_job_while_it_runs() -> None:
    first = enqueue(idempotency_key="invoice-42")
    assert states.claim_next(queues=["default"], worker="w1", lease_seconds=60) is not None

    assert enqueue(idempotency_key="invoice-42").pk == first.pk


@pytest.mark.django_db
def test_same_idempotency_key_creates_a_new_job_once_the_first_finished() -> None:
    first = enqueue(idempotency_key="invoice-42")
    claimed = states.claim_next(queues=["default"], worker="w1", lease_seconds=60)
    assert claimed is not None
    assert states.record(states.Finish(claimed, Status.DONE, reason="done", result=3))

    second = enqueue(idempotency_key="invoice-42")

    assert second.pk != first.pk
    assert (second.status, second.idempotency_key) == (Status.QUEUED, "invoice-42")
    assert enqueue(idempotency_key="invoice-42").pk == second.pk


@pytest.mark.django_db
def test_same_idempotency_key_creates_a_new_job_after_the_first_was_cancelled() -> None:
    first = enqueue(idempotency_key="invoice-42")
    services.cancel_job(job_id=first.pk)

    assert enqueue(idempotency_key="invoice-42").pk != first.pk


@pytest.mark.django_db
def test_different_idempotency_keys_create_different_jobs() -> None:
    assert enqueue(idempotency_key="a").pk != enqueue(idempotency_key="b").pk


# --- Transactional enqueue -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", [None, "invoice-42"])
def test_enqueue_inside_rolled_back_transaction_leaves_no_job_and_no_event(key: str | None) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue(idempotency_key=key)
        raise RuntimeError("the caller's own work failed")

    assert_nothing_written()


@pytest.mark.django_db(transaction=True)
def test_enqueue_inside_committed_transaction_stores_the_job() -> None:
    with transaction.atomic():
        job = enqueue()

    assert Job.objects.get(pk=job.pk).status == Status.QUEUED
    assert JobEvent.objects.filter(job_id=job.pk).count() == 1


# --- Bulk enqueue ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_enqueue_stores_every_job_in_order_with_its_event() -> None:
    jobs = services.enqueue_jobs(specs=[spec(args=[n, n]) for n in range(5)] + [spec(delay=60)], actor="bob")

    assert [j.args for j in jobs] == [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [1, 2]]
    assert [Job.objects.get(pk=j.pk).status for j in jobs] == ["queued"] * 5 + ["scheduled"]
    assert sorted(JobEvent.objects.values_list("job_id", "new_status", "actor")) == sorted(
        (j.pk, j.status, "bob") for j in jobs
    )


@pytest.mark.django_db
@pytest.mark.parametrize("with_keys", [False, True])
def test_bulk_enqueue_is_all_or_nothing_naming_the_bad_item(with_keys: bool) -> None:
    keys = {"idempotency_key": "k"} if with_keys else {}
    specs = [spec(**keys), spec(), spec(priority=500), spec()]

    with pytest.raises(InvalidJob) as caught:
        services.enqueue_jobs(specs=specs)

    assert caught.value.message == f"job 2: {PRIORITY_ERROR}"
    assert_nothing_written()


@pytest.mark.django_db
def test_bulk_enqueue_names_an_unknown_task_by_index() -> None:
    with pytest.raises(InvalidJob) as caught:
        services.enqueue_jobs(specs=[spec(), spec(task_name="tests.tasks.nope")])

    assert caught.value.message == "job 1: Unknown task 'tests.tasks.nope'"
    assert_nothing_written()


@pytest.mark.django_db
def test_bulk_enqueue_refuses_more_than_the_limit() -> None:
    with pytest.raises(InvalidJob) as caught:
        services.enqueue_jobs(specs=[spec()] * (services.MAX_BULK + 1))

    assert caught.value.message == "at most 10000 jobs per bulk enqueue"
    assert_nothing_written()


@pytest.mark.django_db
def test_bulk_enqueue_with_repeated_key_returns_the_first_job_twice() -> None:
    jobs = services.enqueue_jobs(specs=[spec(idempotency_key="k"), spec(idempotency_key="k"), spec()])

    assert jobs[0].pk == jobs[1].pk != jobs[2].pk
    assert Job.objects.count() == 2


@pytest.mark.django_db
def test_bulk_enqueue_of_nothing_returns_nothing() -> None:
    assert services.enqueue_jobs(specs=[]) == []
    assert_nothing_written()


# --- Query counts -----------------------------------------------------------------------------------------

# SQLite: savepoint, job INSERT, event INSERT, release. PostgreSQL: savepoint, one INSERT whose
# CTEs also write the event and send the pg_notify that wakes workers, release.
ENQUEUE_QUERIES = {"sqlite": 4, "postgresql": 3}


@pytest.mark.parametrize("existing", [0, 200])
def test_enqueue_runs_a_fixed_number_of_queries_however_many_jobs_exist(
    make_job: Callable[..., Job],
    django_assert_num_queries,
    existing: int,  # noqa: ANN001
) -> None:
    services.enqueue_jobs(specs=[spec()] * existing)

    with django_assert_num_queries(ENQUEUE_QUERIES[connection.vendor]):
        make_job()


@pytest.mark.django_db
def test_bulk_enqueue_of_500_jobs_batches_its_inserts(django_assert_max_num_queries) -> None:  # noqa: ANN001
    with django_assert_max_num_queries(10):
        jobs = services.enqueue_jobs(specs=[spec(args=[n, 1]) for n in range(500)])

    assert len({j.pk for j in jobs}) == 500
    assert JobEvent.objects.count() == 500
