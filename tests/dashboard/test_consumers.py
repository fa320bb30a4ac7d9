"""The live transport end to end inside one process: project.asgi's WebSocket stack, the consumers and the
fanout's tailer reading JobEvent rows from the real database (other threads' commits, as workers' are).

Each test runs its scenario on a fresh event loop with async_to_sync and disconnects every client.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from jobs import selectors
from project.asgi import application
from tests.dashboard.conftest import client_for, make_user, run_job

pytestmark = pytest.mark.django_db(transaction=True)

HOST = (b"host", b"localhost")  # as a browser sends it: the page's origin is http://localhost
ORIGIN = (b"origin", b"http://localhost")
TIMEOUT = 20  # generous: a failing test waits this long, a passing one a few ticks


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def session_cookie(client: Client) -> tuple[bytes, bytes]:
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def communicator(path: str, client: Client | None = None, origin: tuple[bytes, bytes] = ORIGIN) -> Any:
    headers = [HOST, origin] + ([session_cookie(client)] if client is not None else [])
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_until(ws: Any, predicate: Callable[[str], bool]) -> str:
    """Messages until one satisfies `predicate` (earlier ones may be other, harmless updates)."""
    while True:
        message = await ws.receive_from(timeout=TIMEOUT)
        if predicate(message):
            return message


def db(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    return database_sync_to_async(func)


@pytest.fixture
def viewer_ws_client(transactional_db: None) -> Client:
    return client_for(make_user("vera", "viewer"))


@pytest.fixture
def operator_ws_client(transactional_db: None) -> Client:
    return client_for(make_user("otto", "operator"))


def test_anonymous_websocket_is_refused(transactional_db: None) -> None:
    async def scenario() -> None:
        ws = communicator("/ws/jobs/")
        connected, code = await ws.connect()
        assert (connected, code) == (False, 4003)
        await ws.disconnect()

    run(scenario)


def test_websocket_of_a_user_without_role_is_refused(transactional_db: None) -> None:
    outsider = client_for(make_user("oscar"))

    async def scenario() -> None:
        ws = communicator("/ws/overview/", outsider)
        connected, code = await ws.connect()
        assert (connected, code) == (False, 4003)
        await ws.disconnect()

    run(scenario)


def test_websocket_from_another_origin_is_refused(viewer_ws_client: Client) -> None:
    async def scenario() -> None:
        ws = communicator("/ws/jobs/", viewer_ws_client, origin=(b"origin", b"https://evil.example"))
        connected, _ = await ws.connect()
        assert connected is False
        await ws.disconnect()

    run(scenario)


def test_new_job_and_its_state_changes_reach_a_connected_jobs_page(viewer_ws_client: Client, make_job: Any) -> None:
    cursor = selectors.last_event_id()

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?after={cursor}", viewer_ws_client)
        assert (await ws.connect())[0]

        job = await db(make_job)()
        added = await receive_until(ws, lambda m: f'id="job-{job.pk}"' in m)
        assert '<tbody hx-swap-oob="afterbegin:#job-rows">' in added  # new on the first page: added on top
        assert "Queued" in added
        # New rows travel in a message of their own (see JobListConsumer.jobs_changed); the cursor ends
        # the tick's last message, so it moves only once the whole update arrived.
        cursor_pattern = r'<span id="live-cursor" data-event-id="(\d+)"'
        if not re.search(cursor_pattern, added):
            await receive_until(ws, lambda m: re.search(cursor_pattern, m))

        await db(run_job)(job.pk)
        done = await receive_until(ws, lambda m: f'id="job-{job.pk}"' in m and "Done" in m)
        assert "hx-swap-oob" not in done.split(f'id="job-{job.pk}"')[0]  # now shown: replaced in place
        await ws.disconnect()

    run(scenario)


def test_an_oldest_first_list_updates_its_rows_but_takes_no_new_jobs_on_top(
    viewer_ws_client: Client, make_job: Any
) -> None:
    shown = make_job()
    cursor = selectors.last_event_id()

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?order=oldest&after={cursor}&ids={shown.pk}", viewer_ws_client)
        assert (await ws.connect())[0]
        new = await db(make_job)()  # belongs at the far end of this list, not on top
        await db(run_job)(shown.pk)
        received: list[str] = []
        await receive_until(ws, lambda m: received.append(m) or (f'id="job-{shown.pk}"' in m and "Done" in m))
        assert not any(f'id="job-{new.pk}"' in m or "afterbegin" in m for m in received), received
        await ws.disconnect()

    run(scenario)


def test_many_changes_in_one_interval_arrive_as_one_message(viewer_ws_client: Client) -> None:
    from jobs import services

    cursor = selectors.last_event_id()
    specs = [services.JobSpec(task_name="tests.tasks.add", args=[n, n]) for n in range(30)]

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?after={cursor}", viewer_ws_client)
        assert (await ws.connect())[0]
        new = await db(services.enqueue_jobs)(specs=specs)  # one transaction: all events at once
        message = await receive_until(ws, lambda m: "job-rows" in m)
        assert sorted(int(i) for i in re.findall(r'<tr id="job-(\d+)"', message)) == sorted(j.pk for j in new)
        await ws.disconnect()

    run(scenario)


def test_jobs_page_ignores_changes_to_jobs_it_does_not_show(viewer_ws_client: Client, make_job: Any) -> None:
    other = make_job(queue="other")
    mine = make_job(queue="mail")
    cursor = selectors.last_event_id()

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?queue=mail&after={cursor}&ids={mine.pk}", viewer_ws_client)
        assert (await ws.connect())[0]
        await db(run_job)(other.pk)  # not on this page and not a new job: nothing to send
        await db(run_job)(mine.pk)
        message = await receive_until(ws, lambda m: "job-" in m)
        assert f'id="job-{mine.pk}"' in message and f'id="job-{other.pk}"' not in message
        await ws.disconnect()

    run(scenario)


def test_reconnect_with_last_event_id_catches_up_on_missed_events(viewer_ws_client: Client, make_job: Any) -> None:
    job = make_job(queue="solo")

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?ids={job.pk}", viewer_ws_client)
        assert (await ws.connect())[0]
        await db(run_job)(job.pk, to="running")
        running = await receive_until(ws, lambda m: "Running" in m)
        seen = int(re.search(r'data-event-id="(\d+)"', running).group(1))
        await ws.disconnect()

        await db(finish_running)(job.pk)  # happens while the page is disconnected

        again = communicator(f"/ws/jobs/?after={seen}&ids={job.pk}", viewer_ws_client)
        assert (await again.connect())[0]
        caught_up = await again.receive_from(timeout=TIMEOUT)  # sent on connect, before any tick
        assert f'id="job-{job.pk}"' in caught_up and "Done" in caught_up
        assert int(re.search(r'data-event-id="(\d+)"', caught_up).group(1)) > seen
        await again.disconnect()

    run(scenario)


def test_a_reconnect_catches_up_on_an_event_that_committed_after_its_cursor(make_job: Any) -> None:
    from dashboard.consumers import _catch_up
    from dashboard.fanout import GAP_SECONDS, ListView
    from jobs import services
    from jobs.models import JobEvent

    jobs = [make_job(queue="solo") for _ in range(3)]
    services.cancel_jobs(ids=[job.pk for job in jobs], actor="test")
    middle = JobEvent.objects.get(job_id=jobs[1].pk, new_status="cancelled")
    middle_id = middle.pk
    middle.delete()  # on PostgreSQL its transaction took the id but had not committed yet
    after = selectors.last_event_id()  # the page is rendered at this cursor, without the middle change
    middle.pk = middle_id  # delete() cleared it
    middle.save(force_insert=True)  # the late commit, under an id below the page's cursor
    view = ListView(shown={job.pk for job in jobs}, top_id=jobs[-1].pk, takes_new=False)

    missed = _catch_up(after, view, late_window=GAP_SECONDS)
    by_id = _catch_up(after, view, late_window=0.0)  # reading by id alone (SQLite: ids commit in order)

    assert missed is not None and [row["id"] for row in missed["rows"]] == [job.pk for job in reversed(jobs)]
    assert missed["cursor"] == after
    assert 'data-status="cancelled"' in missed["rows"][1]["html"]
    assert by_id is None


def finish_running(job_id: int) -> None:
    """End the running attempt of `job_id` (claimed by run_job(to="running")) as done."""
    from jobs import states
    from jobs.models import Job

    job = Job.objects.get(pk=job_id)
    claimed = states.ClaimedJob(
        id=job.pk,
        queue=job.queue,
        task_name=job.task_name,
        args=job.args,
        payload=job.payload,
        attempt=job.attempt,
        max_attempts=job.max_attempts,
        timeout=job.timeout,
        worker=job.worker,
        started_at=job.started_at,
    )
    assert states.record(states.Finish(claimed, "done", reason="done", result=3))


def test_overview_gets_a_snapshot_on_connect_and_after_changes(viewer_ws_client: Client, make_job: Any) -> None:
    async def scenario() -> None:
        ws = communicator("/ws/overview/", viewer_ws_client)
        assert (await ws.connect())[0]
        first = await receive_until(ws, lambda m: 'id="overview-live"' in m)
        assert "No jobs yet." in first
        await db(make_job)(queue="mail")
        changed = await receive_until(ws, lambda m: 'id="queue-mail"' in m)
        assert 'id="overview-live"' in changed
        await ws.disconnect()

    run(scenario)


def test_job_page_gets_progress_and_log_lines_of_a_running_job(
    viewer_ws_client: Client, operator_ws_client: Client, make_job: Any
) -> None:
    from jobs import services
    from jobs.models import JobLog

    job = make_job(queue="solo")
    run_job(job.pk, to="running")
    cursor = selectors.last_event_id()

    def progress_and_log() -> None:
        services.set_progress(job_id=job.pk, attempt=1, fraction=0.5, message="halfway")
        JobLog.objects.bulk_create(
            [JobLog(job_id=job.pk, attempt=1, created_at=job.created_at, level=20, message="<b>step</b> one")]
        )

    async def scenario() -> None:
        viewer = communicator(f"/ws/jobs/{job.pk}/?after={cursor}", viewer_ws_client)
        operator = communicator(f"/ws/jobs/{job.pk}/?after={cursor}", operator_ws_client)
        assert (await viewer.connect())[0] and (await operator.connect())[0]
        snapshot = await viewer.receive_from(timeout=TIMEOUT)  # catch-up on connect
        assert 'id="job-live"' in snapshot and "Running" in snapshot
        assert f"/jobs/{job.pk}/cancel/" not in snapshot  # a viewer gets no action buttons
        assert f"/jobs/{job.pk}/cancel/" in await operator.receive_from(timeout=TIMEOUT)

        await db(progress_and_log)()
        update = await receive_until(viewer, lambda m: "halfway" in m and "step" in m)
        assert '<progress id="job-progress" value="0.5"' in update
        assert "&lt;b&gt;step&lt;/b&gt; one" in update  # log lines are text
        await viewer.disconnect()
        await operator.disconnect()

    run(scenario)


def test_every_change_of_a_shown_row_arrives_at_a_job_rate_far_above_a_ticks_new_rows(
    viewer_ws_client: Client,
) -> None:
    from dashboard.fanout import MAX_NEW_ROWS
    from jobs import services

    jobs = services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(900)])
    shown = [job.pk for job in jobs[::18]]  # a page of 50 rows, most of them far from the newest jobs
    cursor = selectors.last_event_id()
    assert len(jobs) > 5 * MAX_NEW_ROWS

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?after={cursor}&ids={','.join(map(str, shown))}", viewer_ws_client)
        assert (await ws.connect())[0]
        await db(cancel_in_one_transaction)([job.pk for job in jobs])  # 900 changes in one tick
        cancelled: set[int] = set()
        while not cancelled >= set(shown):
            message = await ws.receive_from(timeout=TIMEOUT)
            assert "skipped" not in message and "reload" not in message, message
            for job_id, row in re.findall(r'<tr id="job-(\d+)"(.*?)</tr>', message, re.S):
                assert int(job_id) in shown or int(job_id) > max(shown)  # its rows, or new ones for its top
                if "Cancelled" in row:
                    cancelled.add(int(job_id))
        await ws.disconnect()

    run(scenario)


def cancel_in_one_transaction(ids: list[int]) -> None:
    from django.db import transaction

    from jobs import services

    with transaction.atomic():
        services.cancel_jobs(ids=ids, actor="test")


def test_a_page_reconnecting_after_a_large_backlog_gets_every_change_of_its_rows(
    viewer_ws_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import consumers
    from jobs import services

    MAX_EVENTS = 5_000  # noqa: N806 - one read's size, made smaller so the backlog stays quick to write
    monkeypatch.setattr(consumers, "MAX_EVENTS", MAX_EVENTS)

    jobs = services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(300)])
    shown = [jobs[0].pk, jobs[150].pk]
    cursor = selectors.last_event_id()
    # More events than one read takes (MAX_EVENTS) happen while the page is away.
    services.cancel_jobs(ids=[job.pk for job in jobs], actor="test")
    filler = MAX_EVENTS // 2 + 1
    services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 2]) for n in range(filler)])
    services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 3]) for n in range(filler)])
    assert selectors.last_event_id() - cursor > MAX_EVENTS

    async def scenario() -> None:
        ws = communicator(f"/ws/jobs/?after={cursor}&ids={','.join(map(str, shown))}&before=1", viewer_ws_client)
        assert (await ws.connect())[0]
        caught_up = await ws.receive_from(timeout=TIMEOUT)  # sent on connect, before any tick
        for job_id in shown:
            assert re.search(rf'<tr id="job-{job_id}".*?Cancelled', caught_up, re.S)
        assert "skipped" not in caught_up
        await ws.disconnect()

    run(scenario)
