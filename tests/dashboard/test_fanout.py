"""The fanout's tick: what one read of the event table turns into, and what it costs."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard import fanout
from dashboard.fanout import Interest, Tailer
from jobs import listing, services
from jobs.listing import JobFilters
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db

# One jobs page showing no rows yet and taking new jobs on top, an overview, nothing watched.
EVERYONE = Interest(overview=True, lists=True, watched=(), overview_wanted=True, new_for=((0, JobFilters()),))


def test_tick_sends_one_message_per_group_for_many_changes(make_job: Any) -> None:
    tailer = Tailer()
    jobs = services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(40)])

    messages = tailer.tick(EVERYONE)

    groups = [group for group, _ in messages]
    assert groups == [fanout.list_group(), fanout.overview_group()]
    rows = messages[0][1]["rows"]
    assert [row["id"] for row in rows] == sorted((j.pk for j in jobs), reverse=True)
    assert messages[0][1]["cursor"] == tailer.cursor
    assert 'id="count-queued">40<' in messages[0][1]["counts"]


def test_tick_with_nothing_new_sends_nothing(make_job: Any) -> None:
    make_job()
    tailer = Tailer()
    tailer.tick(EVERYONE)

    assert (
        tailer.tick(
            Interest(overview=True, lists=True, watched=(), overview_wanted=False, new_for=((0, JobFilters()),))
        )
        == []
    )


@pytest.mark.parametrize("jobs", [2, 300])
def test_tick_queries_do_not_grow_with_the_number_of_changed_jobs(
    make_job: Any, django_assert_max_num_queries: Any, jobs: int
) -> None:
    watched = make_job(queue="solo")
    run_job(watched.pk, to="running")
    tailer = Tailer()
    tailer.tick(Interest(overview=False, lists=False, watched=(watched.pk,), overview_wanted=False))  # snapshot
    services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(jobs)])
    services.set_progress(job_id=watched.pk, attempt=1, fraction=0.5)

    # events, rows, newest job id, counts (4); overview (8, +3 on PostgreSQL: capped queue counts), charts (4: event
    # times, events GROUP BY, run times, wait times; +1 when event ids run past charts.MAX_EVENTS);
    # watched: logs, progress, the job's region (2 + 5: job, attempts, events, dependencies, logs); rows:
    # the new jobs' keys, to match them to the lists' filters (1)
    with django_assert_max_num_queries(28):
        messages = tailer.tick(
            Interest(
                overview=True, lists=True, watched=(watched.pk,), overview_wanted=True, new_for=((0, JobFilters()),)
            )
        )

    assert fanout.job_group(watched.pk) in [group for group, _ in messages]
    assert len(messages[0][1]["rows"]) == min(jobs, fanout.MAX_NEW_ROWS)
    assert messages[0][1].get("more_new", False) is (jobs > fanout.MAX_NEW_ROWS)


def test_every_change_of_a_shown_row_is_rendered_however_many_jobs_changed(make_job: Any) -> None:
    jobs = services.enqueue_jobs(specs=[services.JobSpec(task_name="tests.tasks.add", args=[n, 1]) for n in range(900)])
    shown = frozenset(job.pk for job in jobs[::18])  # 50 rows spread over the 900, mostly far from the newest
    tailer = Tailer()
    # 900 jobs change in one tick, nine times the new rows a tick renders.
    services.cancel_jobs(ids=[job.pk for job in jobs], actor="test")

    messages = dict(tailer.tick(Interest(overview=False, lists=True, watched=(), overview_wanted=False, shown=shown)))

    rows = messages[fanout.list_group()]["rows"]
    assert {row["id"] for row in rows} == shown  # no page takes new rows: only the shown ones are rendered
    assert all(row["status"] == "cancelled" for row in rows)
    assert "more_new" not in messages[fanout.list_group()]


def test_new_rows_for_the_tops_of_the_lists_are_the_newest_matching_jobs_above_a_top(make_job: Any) -> None:
    ids = [make_job(queue="mail" if n % 2 else "other").pk for n in range(10)]  # odd ones in "mail"
    changed = list(reversed(ids))
    mail = listing.JobFilters(queue="mail")

    assert fanout.rows_to_render(changed, shown={ids[0]}, new_for=((ids[5], mail),)) == (
        [ids[0], ids[9], ids[7]],
        False,
    )
    assert fanout.rows_to_render(changed, shown={ids[0]}, new_for=()) == ([ids[0]], False)
    many = [make_job().pk for _ in range(fanout.MAX_NEW_ROWS + 5)]
    rendered, more_new = fanout.rows_to_render(many, shown=set(), new_for=((0, JobFilters()),))
    assert rendered == sorted(many, reverse=True)[: fanout.MAX_NEW_ROWS] and more_new


def test_a_tick_reaches_every_consumer_even_when_one_fails(caplog: Any) -> None:
    import asyncio

    got: list[str] = []

    class Consumer:
        def __init__(self, name: str) -> None:
            self.name = name

        async def jobs_changed(self, event: dict[str, Any]) -> None:
            if self.name == "closing":
                raise ConnectionError("socket closing")
            got.append(self.name)

    lists = [Consumer(f"list-{n}") for n in range(3)] + [Consumer("closing")]
    receivers: dict[str, set[Any]] = {"big": set(lists), "small": {Consumer("job")}}
    asyncio.run(fanout.deliver(receivers, [("big", {}), ("small", {}), ("nobody", {})]))

    assert got[0] == "job"  # the smallest group first: a job page does not wait behind a list's fan-out
    assert sorted(got[1:]) == ["list-0", "list-1", "list-2"]
    assert "live update to big failed: socket closing" in caplog.text


def test_a_watched_job_is_rendered_only_as_its_viewers_see_it(make_job: Any) -> None:
    job = make_job()
    tailer = Tailer()
    services.cancel_job(job_id=job.pk)
    only_viewers = Interest(
        overview=False, lists=False, watched=(job.pk,), overview_wanted=False, variants=frozenset({(job.pk, "view")})
    )

    messages = dict(tailer.tick(only_viewers))

    assert set(messages[fanout.job_group(job.pk)]["html"]) == {"view"}
    assert 'id="job-status">Cancelled<' in messages[fanout.job_group(job.pk)]["html"]["view"]


@pytest.mark.parametrize("watched", [1, 40])
def test_watched_jobs_regions_cost_the_same_queries_however_many_moved(
    make_job: Any, django_assert_num_queries: Any, watched: int
) -> None:
    jobs = [make_job(queue="solo") for _ in range(watched)]
    tailer = Tailer()
    services.cancel_jobs(ids=[job.pk for job in jobs], actor="test")
    interest = Interest(overview=False, lists=False, watched=tuple(job.pk for job in jobs), overview_wanted=False)

    # events, log lines, progress; the regions: jobs, attempts, events, dependencies (none has an
    # attempt: no log read)
    with django_assert_num_queries(7):
        messages = tailer.tick(interest)

    assert sorted(group for group, _ in messages) == sorted(fanout.job_group(job.pk) for job in jobs)


def test_an_event_committed_after_a_later_one_still_reaches_the_pages(make_job: Any) -> None:
    from jobs.models import JobEvent

    jobs = [make_job() for _ in range(3)]
    tailer = Tailer()
    services.cancel_jobs(ids=[job.pk for job in jobs], actor="test")
    middle = JobEvent.objects.get(job_id=jobs[1].pk, new_status="cancelled")
    middle_id = middle.pk
    middle.delete()  # not visible yet: on PostgreSQL its transaction took the id but commits later
    shown = Interest(overview=False, lists=True, watched=(), overview_wanted=False, shown=frozenset(j.pk for j in jobs))

    first = dict(tailer.tick(shown))
    middle.pk = middle_id  # delete() cleared it
    middle.save(force_insert=True)  # the late commit, under the id the cursor already passed
    second = dict(tailer.tick(shown))

    assert [row["id"] for row in first[fanout.list_group()]["rows"]] == [jobs[2].pk, jobs[0].pk]
    assert [row["id"] for row in second[fanout.list_group()]["rows"]] == [jobs[1].pk]
    assert tailer.gaps == {}
