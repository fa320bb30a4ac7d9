"""A client generated with openapi-python-client from the served document, driving the main flows.

This is what an integrator does: generate from /api/v1/openapi.json, then call operations by their
readable names (`enqueue_job.sync_detailed(...)`). The generator must not warn, and every answer must
be one the document lists (`raise_on_unexpected_status`) and parse into its model. The generated code
talks HTTP through httpx to the whole Django stack (middleware, auth, ninja) via a WSGI transport.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections

from jobs.models import Job

PACKAGE = "jobdeck_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def transport(db: None) -> Iterator[httpx.WSGITransport]:
    # As Django's test client does: the test's transaction must outlive each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield httpx.WSGITransport(app=get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def generated(tmp_path: Path, transport: httpx.WSGITransport) -> Iterator[ModuleType]:
    with httpx.Client(transport=transport, base_url="http://testserver") as http:
        served = http.get("/api/v1/openapi.json")
    assert served.status_code == 200
    (tmp_path / "openapi.json").write_bytes(served.content)
    (tmp_path / "config.yaml").write_text("post_hooks: []\n")  # no formatter run: nothing to install
    assert shutil.which(str(GENERATOR)), "openapi-python-client is in requirements-dev.txt"
    run = subprocess.run(
        [str(GENERATOR), "generate", "--path", "openapi.json", "--meta", "none"]
        + ["--output-path", PACKAGE, "--config", "config.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def load(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_the_main_flows_through_a_generated_client(
    generated: ModuleType, transport: httpx.WSGITransport, token_secret: str
) -> None:
    models = load("models")
    jobs = {n: load(f"api.jobs.{n}") for n in ("enqueue_job", "enqueue_jobs", "list_jobs", "get_job")}
    jobs |= {n: load(f"api.jobs.{n}") for n in ("list_job_events", "cancel_job", "retry_job", "delete_job")}
    jobs["act_on_jobs"] = load("api.jobs.act_on_jobs")
    queues = {n: load(f"api.queues.{n}") for n in ("pause_queue", "resume_queue", "list_queues")}
    schedules = {n: load(f"api.schedules.{n}") for n in ("create_schedule", "list_schedules", "run_schedule_now")}
    schedules["delete_schedule"] = load("api.schedules.delete_schedule")
    client = generated.AuthenticatedClient(
        base_url="http://testserver",
        token=token_secret,
        raise_on_unexpected_status=True,  # a status the document does not list raises
        httpx_args={"transport": transport},
    )

    def job_in(a: int, **fields: Any) -> Any:
        return models.JobIn(task="tests.tasks.add", payload=models.JobInPayload.from_dict({"a": a, "b": 1}), **fields)

    # Enqueue one, then three in bulk.
    one = jobs["enqueue_job"].sync_detailed(client=client, body=job_in(1, queue="mail"))
    assert one.status_code == 202 and isinstance(one.parsed, models.JobAcceptedOut)
    bulk = jobs["enqueue_jobs"].sync_detailed(client=client, body=models.JobBulkIn(jobs=[job_in(a) for a in (2, 3, 4)]))
    assert bulk.status_code == 202 and len(bulk.parsed.job_ids) == 3

    # List with filters, then walk every page with the cursor header.
    mail = jobs["list_jobs"].sync_detailed(client=client, queue="mail", status=models.JobStatus.QUEUED)
    assert [job.id for job in mail.parsed] == [one.parsed.job_id]
    assert mail.parsed[0].status is models.JobStatus.QUEUED
    seen, cursor = [], None
    while True:
        page = jobs["list_jobs"].sync_detailed(client=client, per_page=2, cursor=cursor)  # None: left out
        seen += [job.id for job in page.parsed]
        cursor = page.headers.get("X-Next-Cursor")
        if not cursor:
            break
    assert seen == sorted([one.parsed.job_id, *bulk.parsed.job_ids], reverse=True)

    # Get, history, cancel, retry, cancel again, delete.
    job_id = one.parsed.job_id
    got = jobs["get_job"].sync_detailed(job_id, client=client)
    assert (got.parsed.task, got.parsed.payload.to_dict()) == ("tests.tasks.add", {"a": 1, "b": 1})
    cancelled = jobs["cancel_job"].sync_detailed(job_id, client=client)
    assert cancelled.status_code == 202 and cancelled.parsed.status is models.JobStatus.CANCELLED
    assert jobs["retry_job"].sync_detailed(job_id, client=client).parsed.status is models.JobStatus.QUEUED
    events = jobs["list_job_events"].sync_detailed(job_id, client=client).parsed
    assert [(e.old_status, e.new_status) for e in events] == [
        (None, models.JobStatus.QUEUED),
        (models.JobStatus.QUEUED, models.JobStatus.CANCELLED),
        (models.JobStatus.CANCELLED, models.JobStatus.QUEUED),
    ]
    refused = jobs["delete_job"].sync_detailed(job_id, client=client)
    assert refused.status_code == 409 and isinstance(refused.parsed, models.ErrorOut)
    jobs["cancel_job"].sync_detailed(job_id, client=client)
    assert jobs["delete_job"].sync_detailed(job_id, client=client).status_code == 204
    missing = jobs["get_job"].sync_detailed(job_id, client=client)
    assert missing.status_code == 404 and missing.parsed.error == "Job not found"

    # Bulk actions by filter: cancel everything queued, then delete it.
    cancel_all = models.JobActionIn(action=models.JobAction.CANCEL, status=models.JobStatus.QUEUED)
    assert jobs["act_on_jobs"].sync_detailed(client=client, body=cancel_all).parsed.changed == 3
    delete_all = models.JobActionIn(action=models.JobAction.DELETE, status=models.JobStatus.CANCELLED)
    assert jobs["act_on_jobs"].sync_detailed(client=client, body=delete_all).parsed.changed == 3
    assert not Job.objects.exists()

    # Queues: pause and resume; a name that cannot be a queue is a documented 404.
    paused = queues["pause_queue"].sync_detailed("mail", client=client)
    assert (paused.status_code, paused.parsed.paused) == (200, True)
    assert queues["resume_queue"].sync_detailed("mail", client=client).parsed.paused is False
    assert queues["pause_queue"].sync_detailed("a/b", client=client).status_code == 404
    assert [q.name for q in queues["list_queues"].sync_detailed(client=client).parsed] == ["mail"]

    # Schedules: create, list, run now, delete.
    body = models.ScheduleIn(
        name="nightly", cron="0 3 * * *", task="tests.tasks.add", payload=models.ScheduleInPayload.from_dict({"a": 1})
    )
    created = schedules["create_schedule"].sync_detailed(client=client, body=body)
    assert created.status_code == 201 and created.parsed.source is models.ScheduleSource.DATABASE
    listed = schedules["list_schedules"].sync_detailed(client=client).parsed
    assert [s.name for s in listed] == ["nightly"]
    ran = schedules["run_schedule_now"].sync_detailed(created.parsed.id, client=client)
    assert ran.status_code == 202 and Job.objects.filter(pk=ran.parsed.job_id).exists()
    assert schedules["delete_schedule"].sync_detailed(created.parsed.id, client=client).status_code == 204
