"""/jobs: enqueue (one, scheduled, bulk), list with filters and paging, details, and actions with their 409s."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobEvent, JobLog
from jobs.status import Status
from tests.api.conftest import ApiClient


def test_post_job_returns_202_with_its_id_and_stores_the_options(api: ApiClient) -> None:
    body = {
        "task": "tests.tasks.add",
        "payload": {"a": 1, "b": 2},
        "queue": "emails",
        "priority": 7,
        "max_attempts": 5,
        "delay": 60,
        "timeout": 2.5,
        "idempotency_key": "k-1",
    }

    response = api.post("/jobs", body)

    assert response.status_code == 202
    job = Job.objects.get()
    assert response.json() == {"message": "Job accepted", "job_id": job.pk}
    assert (job.task_name, job.queue, job.priority, job.max_attempts, job.timeout) == (
        "tests.tasks.add",
        "emails",
        7,
        5,
        2.5,
    )
    assert job.status == Status.SCHEDULED and job.run_at > timezone.now() + datetime.timedelta(seconds=50)
    assert job.payload == {"a": 1, "b": 2} and job.idempotency_key == "k-1"


def test_servcore_shape_takes_the_task_from_the_payload(api: ApiClient) -> None:
    response = api.post("/jobs", {"payload": {"task": "add", "a": 2, "b": 3}, "max_attempts": 5})

    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job_id"])
    assert (job.task_name, job.payload, job.max_attempts) == ("tests.tasks.add", {"a": 2, "b": 3}, 5)


def test_unicode_and_html_payload_round_trips_unchanged_as_data(api: ApiClient) -> None:
    payload = {
        "path": "/dev/null",
        "line": '<script>alert("x")</script><img src=x onerror=alert(1)> & &amp; \\ \' "',
        "names": ["Zoë", "日本語", "emoji 🎉", "rtl \u202e", "ß"],
    }
    job_id = api.post("/jobs", {"task": "tests.tasks.append_line", "payload": payload}).json()["job_id"]

    response = api.get(f"/jobs/{job_id}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json()["payload"] == payload


def test_same_idempotency_key_while_unfinished_returns_the_first_job(api: ApiClient) -> None:
    body = {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "idempotency_key": "once"}

    first = api.post("/jobs", body).json()["job_id"]
    second = api.post("/jobs", body).json()["job_id"]

    assert first == second and Job.objects.count() == 1


def test_schedule_returns_202_with_run_at(api: ApiClient) -> None:
    response = api.post(
        "/jobs/schedule", {"payload": {"task": "add", "a": 1, "b": 2}, "run_at": "2030-05-01T12:00:00Z"}
    )

    assert response.status_code == 202
    job = Job.objects.get()
    assert response.json() == {"message": "Job scheduled", "job_id": job.pk, "run_at": "2030-05-01T12:00:00Z"}
    assert job.status == Status.SCHEDULED


@pytest.mark.parametrize(
    "body",
    [
        {"payload": {"task": "add"}},
        {"run_at": "2030-05-01T12:00:00Z"},
        {"payload": "x", "run_at": "2030-05-01T12:00:00Z"},
        {"payload": {"task": "add"}, "run_at": "next tuesday"},
        {"payload": {"task": "add"}, "run_at": 1893456000},
    ],
)
def test_schedule_without_payload_and_iso_run_at_gets_servcore_400(api: ApiClient, body: dict) -> None:
    response = api.post("/jobs/schedule", body)

    assert response.status_code == 400
    assert response.json() == {"error": "Required fields: payload (object), run_at (ISO8601)"}


def test_bulk_enqueue_stores_all_in_order(api: ApiClient) -> None:
    jobs = [{"task": "tests.tasks.add", "payload": {"a": n, "b": 0}} for n in range(5)]

    response = api.post("/jobs/bulk", {"jobs": jobs})

    assert response.status_code == 202
    ids = response.json()["job_ids"]
    assert response.json() == {"message": "Jobs accepted", "job_ids": ids}
    assert [Job.objects.get(pk=i).payload["a"] for i in ids] == [0, 1, 2, 3, 4]


def test_bulk_enqueue_with_one_bad_item_stores_nothing_and_names_it(api: ApiClient) -> None:
    jobs = [{"task": "tests.tasks.add", "payload": {}}, {"task": "nope", "payload": {}}]

    response = api.post("/jobs/bulk", {"jobs": jobs})

    assert response.status_code == 400
    assert response.json() == {"error": "job 1: Unknown task 'nope'"}
    assert not Job.objects.exists()


def test_bulk_enqueue_refuses_more_than_the_limit(api: ApiClient) -> None:
    response = api.post("/jobs/bulk", {"jobs": [{"task": "add", "payload": {}}] * 1001})

    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid 'jobs': List should have at most 1000 items after validation, not 1001"
    }


def test_bulk_item_errors_name_the_position(api: ApiClient) -> None:
    response = api.post("/jobs/bulk", {"jobs": [{"task": "add", "payload": {}}, {"task": "add"}]})

    assert response.status_code == 400
    assert response.json() == {"error": "Missing 'jobs[1].payload' field"}


@pytest.fixture
def three_jobs(make_job: Callable[..., Any]) -> list[Any]:
    return [
        make_job(queue="a"),
        make_job("tests.tasks.append_line", queue="b", kwargs={"path": "/dev/null", "line": "x"}),
        make_job(queue="a", delay=3600),
    ]


def test_list_is_newest_first_with_servcore_fields(api: ApiClient, three_jobs: list[Any]) -> None:
    response = api.get("/jobs")

    assert response.status_code == 200
    items = response.json()
    assert [j["id"] for j in items] == [j.pk for j in reversed(three_jobs)]
    assert {"id", "payload", "status", "inserted_at", "started_at", "finished_at", "result"} <= set(items[0])
    assert "X-Next-Cursor" not in response


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=scheduled", [2]),
        ("queue=a", [2, 0]),
        ("task=tests.tasks.append_line", [1]),
        ("queue=a&status=queued", [0]),
        ("status=failed", []),
    ],
)
def test_list_filters(api: ApiClient, three_jobs: list[Any], query: str, expected: list[int]) -> None:
    response = api.get(f"/jobs?{query}")

    assert [j["id"] for j in response.json()] == [three_jobs[i].pk for i in expected]


def test_list_filters_by_created_range(api: ApiClient, three_jobs: list[Any]) -> None:
    created = three_jobs[1].created_at
    after = created.isoformat().replace("+00:00", "Z")

    response = api.get(f"/jobs?created_after={after}")
    before = api.get("/jobs", data={"created_before": created.isoformat()})

    assert [j["id"] for j in response.json()] == [three_jobs[2].pk, three_jobs[1].pk]
    assert [j["id"] for j in before.json()] == [three_jobs[0].pk]


@pytest.mark.parametrize("value", ["3547654254", "1893456000.5", "-5"])
def test_timestamps_written_as_unix_seconds_are_refused(api: ApiClient, db: None, value: str) -> None:
    listed = api.get(f"/jobs?created_after={value}")
    enqueued = api.post("/jobs", {"task": "tests.tasks.add", "payload": {"a": 1, "b": 2}, "run_at": float(value)})

    for response, field in ((listed, "created_after"), (enqueued, "run_at")):
        assert response.status_code == 400
        assert response.json() == {"error": f"Invalid '{field}': Input should be an ISO 8601 date-time with a timezone"}
    assert not Job.objects.exists()


def test_list_refuses_unknown_status_and_per_page_over_200(api: ApiClient) -> None:
    assert api.get("/jobs?status=lost").status_code == 400
    response = api.get("/jobs?per_page=201")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid 'per_page': Input should be less than or equal to 200"}


@pytest.mark.parametrize("path", ["/jobs?stauts=done", "/jobs?=1", "/jobs/1/logs?attempts=1"])
def test_unknown_query_parameter_gets_400(api: ApiClient, db: None, path: str) -> None:
    response = api.get(path)

    assert response.status_code == 400
    assert response.json()["error"].startswith("Unknown parameter '")


def test_page_numbers_and_cursor_walk_the_same_jobs(api: ApiClient, make_job: Callable[..., Any]) -> None:
    ids = [make_job().pk for _ in range(7)][::-1]

    pages = [[j["id"] for j in api.get(f"/jobs?per_page=3&page={n}").json()] for n in (1, 2, 3, 4)]
    walked, cursor = [], None
    while True:
        response = api.get("/jobs", data={"per_page": 3, **({"cursor": cursor} if cursor else {})})
        walked.append([j["id"] for j in response.json()])
        cursor = response.get("X-Next-Cursor")
        if cursor is None:
            break

    assert pages == [ids[0:3], ids[3:6], ids[6:7], []]
    assert walked == [ids[0:3], ids[3:6], ids[6:7]]


def test_cursor_keeps_its_place_when_new_jobs_arrive(api: ApiClient, make_job: Callable[..., Any]) -> None:
    ids = [make_job().pk for _ in range(4)][::-1]
    cursor = api.get("/jobs?per_page=2")["X-Next-Cursor"]
    make_job()

    response = api.get(f"/jobs?per_page=2&cursor={cursor}")

    assert [j["id"] for j in response.json()] == ids[2:4]


@pytest.mark.parametrize("cursor", ["garbage", "YWJj", "YmVmb3JlOi0x", "%FF"])
def test_invalid_cursor_gets_400(api: ApiClient, cursor: str) -> None:
    response = api.get(f"/jobs?cursor={cursor}")

    assert response.status_code == 400
    assert response.json() == {"error": "Invalid cursor"}


def test_job_detail_and_missing_job(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()

    found = api.get(f"/jobs/{job.pk}")
    missing = api.get(f"/jobs/{job.pk + 1000}")

    assert found.status_code == 200 and found.json()["id"] == job.pk and found.json()["task"] == "tests.tasks.add"
    assert missing.status_code == 404
    assert missing.json() == {"error": "Job not found"}


@pytest.mark.parametrize("sub", ["events", "attempts", "logs", "cancel", "retry", "run-now"])
def test_job_subresources_of_missing_job_get_404(api: ApiClient, db: None, sub: str) -> None:
    method = "GET" if sub in ("events", "attempts", "logs") else "POST"

    response = api.request(method, f"/jobs/424242/{sub}")

    assert response.status_code == 404
    assert response.json() == {"error": "Job not found"}


def test_events_list_the_state_changes(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()
    services.cancel_job(job_id=job.pk, actor="tester")

    events = api.get(f"/jobs/{job.pk}/events").json()

    assert [(e["old_status"], e["new_status"], e["actor"]) for e in events] == [
        (None, "queued", ""),  # null: the creation
        ("queued", "cancelled", "tester"),
    ]


def test_logs_filter_by_attempt_and_page_by_id(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()
    now = timezone.now()
    lines = [
        JobLog.objects.create(job=job, attempt=a, created_at=now, level=20, logger="t", message=f"a{a} line {n}")
        for a in (1, 2)
        for n in range(3)
    ]

    second = api.get(f"/jobs/{job.pk}/logs?attempt=2").json()
    paged = api.get(f"/jobs/{job.pk}/logs?after_id={lines[1].pk}&limit=2").json()

    assert [line["message"] for line in second] == ["a2 line 0", "a2 line 1", "a2 line 2"]
    assert second[0]["level_name"] == "INFO" and second[0]["attempt"] == 2
    assert [line["id"] for line in paged] == [lines[2].pk, lines[3].pk]


def test_cancel_waiting_job_then_409_for_the_finished_one(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()

    first = api.post(f"/jobs/{job.pk}/cancel")
    second = api.post(f"/jobs/{job.pk}/cancel")

    assert first.status_code == 202 and first.json()["status"] == "cancelled"
    assert second.status_code == 409
    assert second.json() == {"error": f"Job {job.pk} is cancelled and cannot become cancelled"}


def test_retry_finished_job_then_409_while_it_waits(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()
    services.cancel_job(job_id=job.pk)

    first = api.post(f"/jobs/{job.pk}/retry")
    second = api.post(f"/jobs/{job.pk}/retry")

    assert first.status_code == 202 and first.json()["status"] == "queued"
    assert second.status_code == 409
    assert second.json() == {"error": f"Job {job.pk} is queued and cannot become queued"}


def test_run_now_makes_scheduled_job_runnable_and_409s_for_finished(
    api: ApiClient, make_job: Callable[..., Any]
) -> None:
    scheduled, finished = make_job(delay=3600), make_job()
    services.cancel_job(job_id=finished.pk)

    moved = api.post(f"/jobs/{scheduled.pk}/run-now")
    refused = api.post(f"/jobs/{finished.pk}/run-now")

    assert moved.status_code == 202 and moved.json()["status"] == "queued"
    assert refused.status_code == 409
    assert refused.json() == {"error": f"Job {finished.pk} is cancelled and cannot become queued"}


def test_delete_removes_a_finished_job_with_its_history_then_404s(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()
    services.cancel_job(job_id=job.pk)

    first = api.delete(f"/jobs/{job.pk}")
    second = api.delete(f"/jobs/{job.pk}")

    assert (first.status_code, first.content) == (204, b"")
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobEvent.objects.filter(job_id=job.pk).exists()
    assert second.status_code == 404 and second.json() == {"error": "Job not found"}


def test_delete_refuses_an_unfinished_job_with_409(api: ApiClient, make_job: Callable[..., Any]) -> None:
    job = make_job()

    response = api.delete(f"/jobs/{job.pk}")

    assert response.status_code == 409
    assert response.json() == {"error": f"Job {job.pk} is queued and cannot become deleted"}
    assert Job.objects.filter(pk=job.pk).exists()


def test_delete_needs_the_permission_the_other_actions_need(
    read_only_api: ApiClient, make_job: Callable[..., Any], django_user_model: Any
) -> None:
    job = make_job()
    services.cancel_job(job_id=job.pk)
    viewer = django_user_model.objects.create_user(username="bob", password="pw")
    client = Client()
    client.force_login(viewer)

    assert read_only_api.delete(f"/jobs/{job.pk}").json() == {"error": "This token is read-only"}
    assert ApiClient(client=client).delete(f"/jobs/{job.pk}").json() == {"error": "You may not change jobs"}
    assert Job.objects.filter(pk=job.pk).exists()


def test_delete_by_filter_deletes_the_finished_jobs_and_skips_the_rest(
    api: ApiClient, make_job: Callable[..., Any]
) -> None:
    finished, waiting = [make_job(queue="a") for _ in range(2)], make_job(queue="a")
    for job in finished:
        services.cancel_job(job_id=job.pk)
    other = make_job(queue="b")
    services.cancel_job(job_id=other.pk)

    response = api.post("/jobs/actions", {"action": "delete", "queue": "a"})

    assert response.status_code == 200
    assert response.json() == {
        "matched": 3,
        "changed": 2,
        "skipped": 1,
        "errors": {str(waiting.pk): f"Job {waiting.pk} is queued and cannot become deleted"},
    }
    assert sorted(Job.objects.values_list("pk", flat=True)) == sorted([waiting.pk, other.pk])


def test_actions_by_filter_report_matched_changed_skipped(api: ApiClient, make_job: Callable[..., Any]) -> None:
    waiting = [make_job(queue="a") for _ in range(3)]
    make_job(queue="b")
    services.cancel_job(job_id=waiting[0].pk)

    response = api.post("/jobs/actions", {"action": "cancel", "queue": "a"})

    assert response.status_code == 200
    assert response.json() == {
        "matched": 3,
        "changed": 2,
        "skipped": 1,
        "errors": {str(waiting[0].pk): f"Job {waiting[0].pk} is cancelled and cannot become cancelled"},
    }
    assert Job.objects.filter(queue="b", status=Status.QUEUED).count() == 1


def test_actions_by_ids_retry(api: ApiClient, make_job: Callable[..., Any]) -> None:
    jobs = [make_job() for _ in range(2)]
    services.cancel_job(job_id=jobs[0].pk)

    response = api.post("/jobs/actions", {"action": "retry", "ids": [jobs[0].pk, jobs[1].pk]})

    assert response.json()["changed"] == 1 and response.json()["skipped"] == 1
    assert JobEvent.objects.filter(job_id=jobs[0].pk, reason="manual retry").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "cancel"}, "Give ids or at least one filter"),
        ({"action": "cancel", "ids": [1], "queue": "a"}, "Give ids or filters, not both"),
        ({"action": "purge", "queue": "a"}, "Invalid 'action': Input should be 'cancel', 'retry' or 'delete'"),
    ],
)
def test_actions_need_one_selection(api: ApiClient, db: None, body: dict, message: str) -> None:
    response = api.post("/jobs/actions", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_actions_refuse_a_filter_matching_more_than_the_cap(
    api: ApiClient, make_job: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jobs.api.routes_jobs.MAX_ACTION_JOBS", 2)
    for _ in range(3):
        make_job()

    response = api.post("/jobs/actions", {"action": "cancel", "status": "queued"})

    assert response.status_code == 400
    assert response.json() == {"error": "The filter matches more than 2 jobs; narrow it"}
    assert Job.objects.filter(status=Status.QUEUED).count() == 3


def test_list_takes_the_task_names_enqueue_takes_and_refuses_unknown_ones(api: ApiClient, db: None) -> None:
    job_id = api.post("/jobs", {"task": "echo", "payload": {"message": "hi"}}).json()["job_id"]

    assert [j["id"] for j in api.get("/jobs?task=echo").json()] == [job_id]
    assert [j["id"] for j in api.get("/jobs?task=jobs.tasks.echo").json()] == [job_id]
    response = api.get("/jobs?task=nope")
    assert response.status_code == 400
    assert response.json() == {"error": "Unknown task 'nope'"}
    Job.objects.filter(pk=job_id).update(task_name="gone.tasks.old")  # a task since removed from the code
    assert [j["id"] for j in api.get("/jobs?task=gone.tasks.old").json()] == [job_id]


def test_list_searches_with_q_and_refuses_a_search_it_cannot_run(api: ApiClient, db: None) -> None:
    hit = api.post("/jobs", {"task": "echo", "payload": {"message": "invoice ready"}}).json()["job_id"]
    api.post("/jobs", {"task": "echo", "payload": {"message": "welcome"}})

    assert [j["id"] for j in api.get("/jobs", data={"q": "INVOICE"}).json()] == [hit]
    assert [j["id"] for j in api.get("/jobs", data={"q": f"#{hit}"}).json()] == [hit]
    assert [j["id"] for j in api.get("/jobs", data={"q": "payload.message:welcome"}).json()] != [hit]
    response = api.get("/jobs", data={"q": "payload.:1"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("A payload search is payload.<key>:<value>")
    action = api.post("/jobs/actions", {"action": "cancel", "q": "invoice"})
    assert action.json()["changed"] == 1
    assert api.post("/jobs/actions", {"action": "cancel", "task": "nope"}).status_code == 400
