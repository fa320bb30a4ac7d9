"""The overview's charts: throughput per bucket, run/wait percentiles per queue, and what they cost."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import charts, fanout
from dashboard.fanout import Interest, Tailer
from jobs import selectors, services
from jobs.models import Attempt, Job, JobEvent
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_chart_state() -> None:
    charts.reset()  # each test reads its own events afresh, whatever ran before in this process


def bucket_index(when: datetime.datetime, chart: charts.Throughput) -> int:
    return int(when.timestamp()) // charts.BUCKET_SECONDS - chart.first_bucket


def test_throughput_counts_done_and_failed_per_queue_in_the_current_bucket(make_job: Any) -> None:
    for queue, to in [("mail", "done"), ("mail", "done"), ("mail", "failed"), ("media", "done")]:
        run_job(make_job(queue=queue, max_attempts=1).pk, to=to, error="x")
    make_job(queue="idle")  # only queued: no series

    now = timezone.now()
    chart = charts.throughput(last_event_id=selectors.last_event_id(), now=now)

    last = chart.buckets - 1
    assert chart.buckets == 360
    assert chart.first_bucket == int(now.timestamp()) // 10 - 359
    assert set(chart.series) == {"mail", "media"}
    assert chart.series["mail"].done == {last: 2}
    assert chart.series["mail"].failed == {last: 1}
    assert chart.series["media"].done == {last: 1}
    assert chart.series["media"].failed == {}
    assert chart.covered_from is None


def test_throughput_places_events_in_their_bucket_and_leaves_out_older_ones(make_job: Any) -> None:
    now = timezone.now()
    recent, old = (run_job(make_job(queue="q").pk) for _ in range(2))
    JobEvent.objects.filter(job=recent, new_status="done").update(created_at=now - datetime.timedelta(minutes=30))
    JobEvent.objects.filter(job=old, new_status="done").update(created_at=now - datetime.timedelta(hours=2))

    chart = charts.throughput(last_event_id=selectors.last_event_id(), now=now)

    assert chart.series["q"].done == {bucket_index(now - datetime.timedelta(minutes=30), chart): 1}
    assert chart.series["q"].done_total == 1


def test_throughput_reads_a_bounded_number_of_events_and_says_from_when(
    make_job: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = [run_job(make_job(queue="q").pk) for _ in range(4)]  # 3 events each: queued, running, done
    first_done = JobEvent.objects.get(job=jobs[0], new_status="done")
    last = selectors.last_event_id()
    monkeypatch.setattr(charts, "MAX_EVENTS", last - first_done.pk)  # the read starts just after it

    chart = charts.throughput(last_event_id=last)

    assert chart.series["q"].done_total == 3
    assert chart.covered_from == first_done.created_at  # complete from the newest event left unread on
    assert json.loads(chart.as_json())["from"] == chart.covered_from.timestamp()


def test_throughput_reaching_past_the_window_covers_all_of_it(make_job: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    old = run_job(make_job(queue="q").pk)
    JobEvent.objects.filter(job=old).update(created_at=timezone.now() - datetime.timedelta(hours=3))
    run_job(make_job(queue="q").pk)
    monkeypatch.setattr(charts, "MAX_EVENTS", 4)  # one old event is read: the whole hour is covered

    chart = charts.throughput(last_event_id=selectors.last_event_id())

    assert chart.covered_from is None
    assert chart.series["q"].done_total == 1


def test_throughput_json_is_sparse_index_count_pairs(make_job: Any) -> None:
    run_job(make_job(queue="q").pk)
    now = timezone.now()
    chart = charts.throughput(last_event_id=selectors.last_event_id(), now=now)

    assert json.loads(chart.as_json()) == {
        "bucket": 10,
        "start": (int(now.timestamp()) // 10 - 359) * 10,
        "n": 360,
        "from": None,
        "queues": {"q": {"done": [[359, 1]], "failed": []}},
    }


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert [charts.percentile(values, p) for p in (50, 95, 99)] == [50.0, 95.0, 99.0]
    assert charts.percentile([7.0], 99) == 7.0
    assert charts.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_run_and_wait_times_per_queue(make_job: Any) -> None:
    now = timezone.now()
    for queue, seconds in [("fast", 1), ("fast", 2), ("fast", 3), ("slow", 60)]:
        job = run_job(make_job(queue=queue).pk)
        Attempt.objects.filter(job=job).update(started_at=now - datetime.timedelta(seconds=seconds), finished_at=now)
        # Test data: waited twice as long as it ran (run_at is not a status field).
        Job.objects.filter(pk=job.pk).update(
            run_at=now - datetime.timedelta(seconds=3 * seconds), started_at=now - datetime.timedelta(seconds=seconds)
        )
    make_job(queue="fast")  # queued: no wait sample yet

    run, wait = charts.run_times(), charts.wait_times()

    assert run == {
        "fast": charts.Latency(samples=3, p50=2.0, p95=3.0, p99=3.0),
        "slow": charts.Latency(samples=1, p50=60.0, p95=60.0, p99=60.0),
    }
    assert wait == {
        "fast": charts.Latency(samples=3, p50=4.0, p95=6.0, p99=6.0),
        "slow": charts.Latency(samples=1, p50=120.0, p95=120.0, p99=120.0),
    }


def test_wait_times_search_only_the_newest_jobs(make_job: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    run_job(make_job(queue="q").pk)
    for _ in range(3):
        make_job(queue="q")  # a backlog newer than the started job
    monkeypatch.setattr(charts, "WAIT_SCAN", 3)

    assert charts.wait_times() == {}
    monkeypatch.setattr(charts, "WAIT_SCAN", 4)
    assert list(charts.wait_times()) == ["q"]


@pytest.mark.parametrize("jobs", [2, 40])
def test_overview_charts_queries_do_not_grow_with_the_number_of_jobs(
    make_job: Any, django_assert_max_num_queries: Any, jobs: int
) -> None:
    for n in range(jobs):
        if n % 2:
            run_job(make_job(queue=f"q{n % 3}").pk, to="failed" if n % 4 == 1 else "done", error="x")
        else:
            make_job(queue="waiting")  # left queued: no samples

    cursor = selectors.last_event_id()
    # event times by id; the events' GROUP BY; run times; wait times; and, when event ids run past
    # MAX_EVENTS (earlier tests in the run used them), the check below the read window
    with django_assert_max_num_queries(5):
        context = charts.overview_charts(last_event_id=cursor)

    assert [row.queue for row in context["performance"]] == (["q1"] if jobs == 2 else ["q0", "q1", "q2"])


def test_overview_charts_read_only_new_events_and_reuse_percentiles(
    make_job: Any, django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_job(make_job(queue="q").pk)
    charts.overview_charts(last_event_id=selectors.last_event_id())

    cursor = selectors.last_event_id()
    with django_assert_num_queries(1):  # nothing new: the event times only
        charts.overview_charts(last_event_id=cursor)

    run_job(make_job(queue="q").pk)
    cursor = selectors.last_event_id()
    with django_assert_num_queries(2):  # new events counted; percentiles younger than a second reused
        context = charts.overview_charts(last_event_id=cursor)
    assert context["performance"][0].done == 2
    assert context["performance"][0].run.samples == 1

    monkeypatch.setattr(charts, "LATENCY_SECONDS", 0.0)
    run_job(make_job(queue="q").pk)
    cursor = selectors.last_event_id()
    with django_assert_num_queries(4):
        context = charts.overview_charts(last_event_id=cursor)
    assert (context["performance"][0].done, context["performance"][0].run.samples) == (3, 3)


def test_throughput_starts_afresh_when_the_events_it_read_are_gone(make_job: Any) -> None:
    run_job(make_job(queue="old").pk)
    charts.throughput(last_event_id=selectors.last_event_id())
    # A new database (or an emptied table) may reuse the ids: the last one read has another time now.
    JobEvent.objects.all().delete()
    Job.objects.all().delete()
    run_job(make_job(queue="new").pk)
    run_job(make_job(queue="new").pk)

    chart = charts.throughput(last_event_id=selectors.last_event_id())

    assert list(chart.series) == ["new"]
    assert chart.series["new"].done_total == 2


def test_a_page_behind_the_fanout_uses_its_newer_counts(make_job: Any, django_assert_num_queries: Any) -> None:
    run_job(make_job(queue="q").pk)
    page_cursor = selectors.last_event_id()
    run_job(make_job(queue="q").pk)
    charts.throughput(last_event_id=selectors.last_event_id())  # the fanout, a moment later

    with django_assert_num_queries(1):
        chart = charts.throughput(last_event_id=page_cursor)

    assert chart.series["q"].done_total == 2


def test_overview_page_shows_performance_rows_and_chart_data(viewer_client: Client, make_job: Any) -> None:
    run_job(make_job(queue="mail", max_attempts=1).pk, to="failed", error="x")
    run_job(make_job(queue="mail").pk)

    response = viewer_client.get(reverse("dashboard:overview"))

    html = response.content.decode()
    assert 'id="throughput-chart"' in html
    assert 'src="/static/vendor/uplot-1.6.32.min.js"' in html
    row = html[html.index('id="performance-mail"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="num">1</td>' in row  # one done
    assert "status=failed" in row and ">1</a>" in row
    data = response.context["chart_json"]
    assert f'data-chart="{data.replace(chr(34), "&quot;")}"' in html
    assert json.loads(data)["queues"]["mail"]["failed"] == [[359, 1]]


def test_overview_htmx_partial_carries_the_chart_data(viewer_client: Client, make_job: Any) -> None:
    run_job(make_job(queue="mail").pk)
    response = viewer_client.get(reverse("dashboard:overview"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="overview-live"')
    assert 'id="chart-data"' in html and 'id="performance-mail"' in html


@pytest.mark.parametrize("jobs", [3, 60])
def test_overview_page_query_count_does_not_grow_with_the_number_of_jobs(
    viewer_client: Client, make_job: Any, django_assert_max_num_queries: Any, jobs: int
) -> None:
    for n in range(jobs):
        if n % 3 == 0:
            run_job(make_job(queue=f"q{n % 4}").pk)
        else:
            make_job(queue="waiting")
    viewer_client.get(reverse("dashboard:overview"))

    # session + user + groups (3), cursor (1), fragments.overview_context (8, +3 on PostgreSQL for the
    # capped queue counts' savepoint, SET LOCAL and release), charts afresh (4, +1 when event ids run
    # past charts.MAX_EVENTS, as after earlier tests: the check below the read window).
    charts.reset()
    with django_assert_max_num_queries(20):
        assert viewer_client.get(reverse("dashboard:overview")).status_code == 200
    # Nothing new since: the charts check the event times only.
    with django_assert_max_num_queries(16):
        assert viewer_client.get(reverse("dashboard:overview")).status_code == 200


def test_live_overview_snapshot_carries_the_chart_and_costs_a_bounded_number_of_queries(
    make_job: Any, django_assert_max_num_queries: Any
) -> None:
    tailer = Tailer()
    jobs = services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(30)])
    for job in jobs[:5]:
        run_job(job.pk)

    # events (1); overview_context (8: alive and gone workers); charts afresh (4)
    with django_assert_max_num_queries(17):  # capped queue counts (+3 on PostgreSQL), charts afresh (+1)
        messages = tailer.tick(Interest(overview=True, lists=False, watched=(), overview_wanted=True))

    [(group, message)] = messages
    assert group == fanout.overview_group()
    assert 'id="chart-data"' in message["html"]
    assert "&quot;done&quot;:[[359,5]]" in message["html"]
