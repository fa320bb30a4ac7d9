"""Concurrent enqueues with one idempotency key create one job: threads and separate processes."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
from django.db import connection

from jobs import services
from jobs.models import Job, JobEvent
from jobs.services import JobSpec
from tests.conftest import ROOT, worker_env

SPEC = JobSpec(task_name="tests.tasks.add", args=[1, 2], idempotency_key="order-42")


@pytest.mark.django_db(transaction=True)
def test_threads_enqueueing_one_key_at_once_create_one_job() -> None:
    barrier = threading.Barrier(6)
    ids: list[int] = []
    errors: list[BaseException] = []

    def enqueue() -> None:
        try:
            barrier.wait(timeout=10)
            ids.append(services.enqueue_job(spec=SPEC).pk)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=enqueue) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert len(ids) == 6
    assert len(set(ids)) == 1
    assert Job.objects.count() == 1
    assert JobEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_processes_enqueueing_one_key_at_once_create_one_job() -> None:
    code = (
        "import time, sys; from jobs import services, registry; from jobs.services import JobSpec;"
        "registry.all_tasks();"
        "start = float(sys.argv[1]);"
        "time.sleep(max(0, start - time.time()));"
        "print(services.enqueue_job(spec=JobSpec(task_name='tests.tasks.add', args=[1, 2],"
        " idempotency_key='order-42')).pk)"
    )
    import time

    start = time.time() + 3  # every process enqueues at the same moment, after its start-up
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE',"
                f" 'project.settings'); django.setup(); exec({code!r})",
                str(start),
            ],
            cwd=ROOT,
            env=worker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0] * 4, outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert Job.objects.count() == 1
