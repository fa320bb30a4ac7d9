"""The fanout's tick: what one read of the event table turns into, and what it costs."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard import fanout
from dashboard.fanout import Interest, Tailer
from jobs import services
from tests.dashboard.conftest import run_job

pytestmark = pytest.mark.django_db

EVERYONE = Interest(overview=True, lists=True, watched=(), overview_wanted=True)


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

    assert tailer.tick(Interest(overview=True, lists=True, watched=(), overview_wanted=False)) == []


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
    # watched: logs, progress, the job's region (2 + 4)
    with django_assert_max_num_queries(26):
        messages = tailer.tick(Interest(overview=True, lists=True, watched=(watched.pk,), overview_wanted=True))

    assert fanout.job_group(watched.pk) in [group for group, _ in messages]
    assert len(messages[0][1]["rows"]) == min(jobs, fanout.MAX_ROWS)
    assert messages[0][1]["truncated"] is (jobs > fanout.MAX_ROWS)


def test_matching_count_moves_with_the_tab_counts_and_its_snapshot() -> None:
    from dashboard import fragments

    counts = dict.fromkeys(fragments.Status.values, 0) | {"queued": 3, "failed": 2}
    assert fragments.matching_html(counts, status="failed", upto=9, cap=1000) == (
        '<span id="matching-count">2</span><input type="hidden" name="upto" value="9" id="matching-upto">'
    )
    assert '<span id="matching-count">5</span>' in fragments.matching_html(counts, status="", upto=9, cap=1000)
    # Over the cap "All" keeps the page's estimate, as counts_html does: nothing to move.
    assert fragments.matching_html(counts | {"done": 1001}, status="", upto=9, cap=1000) == ""
