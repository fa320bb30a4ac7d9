"""The API and the CLI for versioned tasks: `task@version` on enqueue, the version and waiting reason
on a job, GET /tasks with the versions live workers have, GET /workers with each worker's tasks."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from jobs import registry
from jobs.engine.workers import register_worker
from jobs.models import Job
from tests import versioned_tasks
from tests.api.conftest import ApiClient

REPORT = "tests.versioned_tasks.report"


@pytest.fixture(autouse=True)
def _versioned_task_registered() -> None:
    registry.register(versioned_tasks.report)  # version "1" in this process


def test_enqueue_records_the_tasks_version_or_the_one_named(api: ApiClient) -> None:
    plain = api.post("/jobs", {"task": REPORT, "args": [1], "payload": {}, "queue": "rolling"}).json()["job_id"]
    named = api.post("/jobs", {"task": "report@2", "args": [1], "payload": {}, "queue": "rolling"}).json()["job_id"]
    in_payload = api.post("/jobs", {"payload": {"task": f"{REPORT}@3", "n": 1}, "queue": "rolling"}).json()["job_id"]

    assert [Job.objects.get(pk=pk).task_version for pk in (plain, named, in_payload)] == ["1", "2", "3"]
    job = api.get(f"/jobs/{named}").json()
    assert (job["task"], job["task_version"]) == (REPORT, "2")
    assert job["waiting_reason"] == f"Waiting for a worker that has task {REPORT}@2"


@pytest.mark.parametrize("task", [f"{REPORT}@", f"{REPORT}@a b", f"{REPORT}@{'9' * 65}"])
def test_a_malformed_version_is_a_400_with_one_message(api: ApiClient, task: str) -> None:
    response = api.post("/jobs", {"task": task, "payload": {}})

    assert response.status_code == 400
    assert response.json() == {"error": "version must be 1-64 characters of letters, digits, '.', '_' or '-'"}
    assert not Job.objects.exists()


def test_a_job_a_live_worker_can_run_has_no_waiting_reason(api: ApiClient) -> None:
    register_worker(name="h:1:a", queues=("default",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@2"])
    job_id = api.post("/jobs", {"task": f"{REPORT}@2", "args": [1], "payload": {}}).json()["job_id"]

    job = api.get(f"/jobs/{job_id}").json()

    assert job["waiting_reason"] is None
    [listed] = api.get("/jobs").json()
    assert listed["task_version"] == "2" and "waiting_reason" not in listed  # the detail only


def test_tasks_lists_each_version_with_the_live_workers_that_have_it(api: ApiClient) -> None:
    register_worker(
        name="h:1:a", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@1", "tests.tasks.add"]
    )
    register_worker(name="h:2:b", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@2"])
    register_worker(name="h:3:c", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@2"])
    register_worker(name="h:4:legacy", queues=("q",), concurrency=1, worker_type="thread")  # lists nothing

    by_name = {t["name"]: t for t in api.get("/tasks").json()}

    assert by_name[REPORT]["version"] == "1"
    assert by_name[REPORT]["versions"] == [
        {"version": "1", "workers": ["h:1:a"]},
        {"version": "2", "workers": ["h:2:b", "h:3:c"]},
    ]
    assert by_name["tests.tasks.add"]["version"] is None
    assert by_name["tests.tasks.add"]["versions"] == [{"version": None, "workers": ["h:1:a"]}]


def test_tasks_lists_a_task_only_a_live_worker_has_as_not_in_this_servers_code(api: ApiClient) -> None:
    register_worker(name="h:5:new", queues=("q",), concurrency=1, worker_type="thread", tasks=["newer.code.reindex@3"])

    by_name = {t["name"]: t for t in api.get("/tasks").json()}

    assert by_name[REPORT]["registered"] is True
    assert by_name["newer.code.reindex"] == {
        "name": "newer.code.reindex",
        "short_name": "reindex",
        "registered": False,
        "queue": None,
        "priority": None,
        "max_attempts": None,
        "timeout": None,
        "docstring": "",
        "version": None,
        "versions": [{"version": "3", "workers": ["h:5:new"]}],
    }


def test_workers_lists_the_tasks_each_worker_has(api: ApiClient) -> None:
    register_worker(name="h:1:a", queues=("q",), concurrency=1, worker_type="thread", tasks=[f"{REPORT}@1"])
    register_worker(name="h:4:legacy", queues=("q",), concurrency=1, worker_type="thread")

    listed = {w["name"]: w["tasks"] for w in api.get("/workers").json()}

    assert listed == {"h:1:a": [f"{REPORT}@1"], "h:4:legacy": None}


def test_the_cli_takes_name_at_version(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    call_command("enqueue", "report@2", "--args", "[1]", "--queue", "rolling")

    job = Job.objects.get()
    assert job.task_version == "2"
    assert capsys.readouterr().out == f"Job {job.pk} queued ({REPORT}@2 on rolling)\n"
    with pytest.raises(CommandError, match="^version must be 1-64 characters"):
        call_command("enqueue", "report@no good", "--args", "[1]")
