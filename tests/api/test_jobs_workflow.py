"""/jobs/{id}/workflow: the graph as JSON, retry the failed part, cancel the rest; permissions and
unknown ids."""

from __future__ import annotations

import pytest

from jobs import states
from jobs.models import Job
from jobs.status import Status
from tests.api.conftest import ApiClient

ADD = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}}


def finish(job_id: int, to: str = Status.DONE) -> None:
    claimed = states.claim_next(queues=["default"], worker="w", lease_seconds=30)
    assert claimed is not None and claimed.id == job_id
    failure = None if to == Status.DONE else states.Failure(outcome="failed", message="boom")
    assert states.record(states.Finish(claimed, to, to, result=3, failure=failure))


def chain(api: ApiClient) -> tuple[int, int, int]:
    """a <- b <- c: a failed for good, b and c cancelled by it."""
    a = api.post("/jobs", ADD | {"max_attempts": 1}).json()["job_id"]
    b = api.post("/jobs", ADD | {"after": [a]}).json()["job_id"]
    c = api.post("/jobs", ADD | {"after": [b]}).json()["job_id"]
    finish(a, Status.FAILED)
    states.promote_due()
    states.promote_due()
    return a, b, c


def test_workflow_lists_jobs_links_and_counts(api: ApiClient) -> None:
    a = api.post("/jobs", ADD).json()["job_id"]
    b = api.post("/jobs", ADD | {"after": [a]}).json()["job_id"]

    response = api.get(f"/jobs/{b}/workflow")

    assert response.status_code == 200
    body = response.json()
    assert body["job_id"] == b
    assert [(j["id"], j["status"], j["pending_parents"]) for j in body["jobs"]] == [
        (a, "queued", 0),
        (b, "scheduled", 1),
    ]
    assert body["links"] == [{"parent": a, "child": b}]
    assert body["counts"]["queued"] == 1 and body["counts"]["scheduled"] == 1 and body["counts"]["done"] == 0
    assert body["finished"] is False and body["truncated"] is False and body["limit"] == 2000


def test_retry_rearms_the_failed_part(api: ApiClient) -> None:
    a, b, c = chain(api)

    response = api.post(f"/jobs/{c}/workflow/retry")

    assert response.status_code == 200
    assert response.json() == {"matched": 3, "changed": 3, "skipped": 0, "errors": {}}
    assert dict(Job.objects.filter(pk__in=[a, b, c]).values_list("pk", "status")) == {
        a: "queued",
        b: "scheduled",
        c: "scheduled",
    }


def test_cancel_cancels_the_unfinished_jobs(api: ApiClient) -> None:
    a = api.post("/jobs", ADD).json()["job_id"]
    b = api.post("/jobs", ADD | {"after": [a]}).json()["job_id"]

    response = api.post(f"/jobs/{a}/workflow/cancel")

    assert response.status_code == 200
    assert response.json()["changed"] + response.json()["skipped"] == 2
    assert set(Job.objects.filter(pk__in=[a, b]).values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.parametrize("path", ["/workflow", "/workflow/retry", "/workflow/cancel"])
def test_unknown_job_is_404_json(api: ApiClient, path: str) -> None:
    path = "/jobs/424242" + path
    response = api.get(path) if path.endswith("workflow") else api.post(path)

    assert response.status_code == 404
    assert response.json() == {"error": "Job not found"}


def test_a_bad_id_is_a_4xx_json_error(api: ApiClient) -> None:
    for path in ("/jobs/0/workflow", "/jobs/abc/workflow"):
        response = api.get(path)
        assert 400 <= response.status_code < 500
        assert set(response.json()) == {"error"}


@pytest.mark.parametrize("action", ["retry", "cancel"])
def test_read_only_and_anonymous_callers_may_not_act(
    api: ApiClient, read_only_api: ApiClient, anonymous_api: ApiClient, action: str
) -> None:
    a, _, _ = chain(api)

    assert read_only_api.get(f"/jobs/{a}/workflow").status_code == 200
    refused = read_only_api.post(f"/jobs/{a}/workflow/{action}")
    assert refused.status_code == 403
    assert set(refused.json()) == {"error"}
    assert anonymous_api.post(f"/jobs/{a}/workflow/{action}").status_code == 401
    assert anonymous_api.get(f"/jobs/{a}/workflow").status_code == 401
    assert Job.objects.get(pk=a).status == "failed"
