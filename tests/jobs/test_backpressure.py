"""Back-pressure on enqueue: a queue's max depth of waiting jobs, refuse or block, bulk all-or-nothing,
refusals counted, and the limit held under concurrent enqueuers (threads and processes)."""

from __future__ import annotations

import subprocess
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from jobs import depth, services
from jobs.api.metrics import render_metrics
from jobs.exceptions import InvalidQueue, QueueFull
from jobs.models import Job, JobEvent, Queue
from jobs.services import JobSpec, backpressure
from jobs.status import WAITING, Status
from tests.conftest import ROOT, worker_env

pytestmark = pytest.mark.django_db


def spec(queue: str = "mail", **fields: Any) -> JobSpec:
    return JobSpec(task_name="tests.tasks.add", args=[1, 2], queue=queue, **fields)


def enqueue(queue: str = "mail", **fields: Any) -> Job:
    return services.enqueue_job(spec=spec(queue, **fields))


def waiting(queue: str = "mail") -> int:
    return Job.objects.filter(queue=queue, status__in=WAITING).count()


def test_enqueue_past_max_depth_raises_queue_full_and_stores_nothing() -> None:
    services.set_queue_max_depth(name="mail", max_depth=2)
    enqueue()
    enqueue()

    with pytest.raises(QueueFull) as excinfo:
        enqueue()

    assert excinfo.value.message == "queue 'mail' is full (2 of 2 waiting jobs); nothing was stored, try again later"
    assert (excinfo.value.status_code, excinfo.value.retry_after) == (429, 5)
    assert Job.objects.count() == 2 and JobEvent.objects.count() == 2
    assert depth.refused_totals() == {"mail": 1}


def test_other_queues_are_not_limited() -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    enqueue()

    for _ in range(3):
        enqueue("other")

    assert waiting("other") == 3


def test_scheduled_and_retrying_jobs_count_running_and_finished_do_not(make_job: Callable[..., Job]) -> None:
    services.set_queue_max_depth(name="mail", max_depth=3)
    scheduled = enqueue(delay=3600)
    running = enqueue()
    done = enqueue()
    Job.objects.filter(pk=running.pk).update(status=Status.RUNNING)  # test setup: not a real claim
    Job.objects.filter(pk=done.pk).update(status=Status.DONE)
    Job.objects.filter(pk=scheduled.pk).update(status=Status.RETRYING)
    enqueue()
    enqueue()  # retrying + 2 queued = 3

    with pytest.raises(QueueFull):
        enqueue()


def test_a_cancelled_job_makes_room() -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    first = enqueue()
    with pytest.raises(QueueFull):
        enqueue()

    services.cancel_job(job_id=first.pk)

    assert enqueue().status == Status.QUEUED


def test_bulk_that_would_pass_the_limit_is_refused_whole() -> None:
    services.set_queue_max_depth(name="mail", max_depth=5)
    services.enqueue_jobs(specs=[spec()] * 3)

    with pytest.raises(QueueFull) as excinfo:
        services.enqueue_jobs(specs=[spec("other"), spec(), spec(), spec()])

    assert excinfo.value.message == (
        "queue 'mail' has room for 2 more waiting jobs, not 3 (5 at most); nothing was stored, try again later"
    )
    assert waiting("mail") == 3 and waiting("other") == 0
    assert depth.refused_totals() == {"mail": 3}
    services.enqueue_jobs(specs=[spec(), spec()])
    assert waiting("mail") == 5


def test_bulk_larger_than_the_limit_can_never_fit() -> None:
    services.set_queue_max_depth(name="mail", max_depth=2, overflow="block", block_seconds=30)

    with pytest.raises(QueueFull) as excinfo:  # refused at once, even in block mode
        services.enqueue_jobs(specs=[spec()] * 3)

    assert excinfo.value.message.startswith("queue 'mail' holds at most 2 waiting jobs: 3 can never fit")


def test_bulk_with_keys_is_all_or_nothing_too() -> None:
    services.set_queue_max_depth(name="mail", max_depth=2)

    with pytest.raises(QueueFull):
        services.enqueue_jobs(specs=[spec(idempotency_key=f"k{n}") for n in range(3)])

    assert Job.objects.count() == 0


def test_an_existing_job_with_the_key_is_returned_even_when_full() -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    first = enqueue(idempotency_key="once")

    assert enqueue(idempotency_key="once").pk == first.pk
    with pytest.raises(QueueFull):
        enqueue(idempotency_key="twice")


def test_removing_the_limit_lets_enqueues_through() -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    enqueue()
    services.set_queue_max_depth(name="mail", max_depth=None)

    enqueue()

    assert waiting() == 2


def test_overflow_alone_keeps_the_max_depth() -> None:
    services.set_queue_max_depth(name="mail", max_depth=4)

    queue = services.set_queue_max_depth(name="mail", overflow="block", block_seconds=1.5)

    assert (queue.max_depth, queue.overflow, queue.block_seconds) == (4, "block", 1.5)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_depth": 0}, "max_depth must be a whole number between 1 and 100000000, or null for no limit"),
        ({"max_depth": True}, "max_depth must be a whole number between 1 and 100000000, or null for no limit"),
        ({"max_depth": 5, "overflow": "drop"}, "overflow must be 'refuse' or 'block'"),
        ({"max_depth": 5, "block_seconds": 0}, "block_seconds must be a number of seconds above 0 and at most 60"),
        ({"max_depth": 5, "block_seconds": 61}, "block_seconds must be a number of seconds above 0 and at most 60"),
    ],
)
def test_bad_settings_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidQueue) as excinfo:
        services.set_queue_max_depth(name="mail", **fields)

    assert excinfo.value.message == message
    assert not Queue.objects.exists()


class FakeClock:
    """backpressure's `time`: monotonic advances only when the enqueue sleeps; each sleep runs `on_sleep`."""

    def __init__(self, on_sleep: Callable[[], None] = lambda: None) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


def use_clock(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    backpressure.limits()  # loaded with the real clock: the fake one never expires it
    monkeypatch.setattr(backpressure, "time", types.SimpleNamespace(monotonic=clock.monotonic, sleep=clock.sleep))


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a web request
def test_block_mode_waits_for_room_then_stores(monkeypatch: pytest.MonkeyPatch) -> None:
    services.set_queue_max_depth(name="mail", max_depth=1, overflow="block", block_seconds=5)
    first = enqueue()
    clock = FakeClock(on_sleep=lambda: len(clock.sleeps) == 3 and services.cancel_job(job_id=first.pk))
    use_clock(monkeypatch, clock)

    second = enqueue()

    assert second.status == Status.QUEUED
    assert clock.sleeps == [0.02, 0.04, 0.08]
    assert depth.refused_totals() == {}


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a web request
def test_block_mode_gives_up_after_block_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    services.set_queue_max_depth(name="mail", max_depth=1, overflow="block", block_seconds=2)
    enqueue()
    clock = FakeClock()
    use_clock(monkeypatch, clock)

    with pytest.raises(QueueFull):
        enqueue()

    assert sum(clock.sleeps) <= 2 and len(clock.sleeps) > 3
    assert depth.refused_totals() == {"mail": 1}


@pytest.mark.django_db(transaction=True)  # outside a transaction, as a web request
def test_block_mode_never_waits_inside_the_callers_transaction(monkeypatch: pytest.MonkeyPatch) -> None:
    services.set_queue_max_depth(name="mail", max_depth=1, overflow="block", block_seconds=5)
    enqueue()
    clock = FakeClock()
    use_clock(monkeypatch, clock)

    with transaction.atomic(), pytest.raises(QueueFull):
        enqueue()

    assert clock.sleeps == []


def test_an_unlimited_queue_costs_no_query_for_the_limit(django_assert_num_queries: Any) -> None:
    backpressure.limits()  # the cached read, once per LIMITS_TTL seconds per process
    expected = {"sqlite": 4, "postgresql": 3}[connection.vendor]  # as without back-pressure

    with django_assert_num_queries(expected):
        enqueue()


def test_metrics_show_the_limit_the_depth_and_the_refusals() -> None:
    services.set_queue_max_depth(name="mail", max_depth=2)
    enqueue()
    enqueue()
    with pytest.raises(QueueFull):
        services.enqueue_jobs(specs=[spec()] * 2)

    text = render_metrics()

    assert 'jobdeck_queue_max_depth{queue="mail"} 2\n' in text
    assert 'jobdeck_queue_depth{queue="mail"} 2\n' in text
    assert 'jobdeck_enqueue_refused_total{queue="mail"} 2\n' in text


# --- Exactness under concurrent enqueuers ----------------------------------------------------------------

LIMIT = 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_never_pass_the_limit() -> None:
    services.set_queue_max_depth(name="mail", max_depth=LIMIT)
    stored, refused = [], []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def enqueuer(bulk: bool) -> None:
        start.wait()
        try:
            for _ in range(8):
                try:
                    n = len(services.enqueue_jobs(specs=[spec()] * 2)) if bulk else (enqueue() and 1)
                except QueueFull:
                    with lock:
                        refused.append(1)
                else:
                    with lock:
                        stored.append(n)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=enqueuer, args=(n % 2 == 0,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert waiting() == sum(stored) <= LIMIT
    assert sum(stored) >= LIMIT - 1  # a bulk of 2 may not fit the last free place
    assert refused


ENQUEUER = """
import django, sys
django.setup()
from jobs import services
from jobs.exceptions import QueueFull
stored = 0
for _ in range(int(sys.argv[1])):
    try:
        services.enqueue_job(spec=services.JobSpec(task_name="tests.tasks.add", args=[1, 2], queue="mail"))
        stored += 1
    except QueueFull:
        pass
print(stored)
"""


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_never_pass_the_limit() -> None:
    services.set_queue_max_depth(name="mail", max_depth=LIMIT)
    env = worker_env(DJANGO_SETTINGS_MODULE="project.settings")
    procs = [
        subprocess.Popen([sys.executable, "-c", ENQUEUER, "15"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]

    assert [proc.returncode for proc in procs] == [0, 0, 0, 0]
    assert waiting() == sum(int(out.split()[-1]) for out in outputs) == LIMIT
    assert depth.refused_totals() == {"mail": 4 * 15 - LIMIT}


def test_a_limit_removed_while_cached_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    services.set_queue_max_depth(name="mail", max_depth=1)
    enqueue()
    wanted = backpressure.limited({"mail": 1})
    services.set_queue_max_depth(name="mail", max_depth=None)  # another look reads no limit

    backpressure.admit(wanted, lambda: enqueue())

    assert waiting() == 2
