"""CappedPaginator: counts at most `cap` rows through a LIMITed subquery and labels the count."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.admin.pagination import CappedPaginator
from jobs.models import Job


class SmallCap(CappedPaginator):
    cap = 3


@pytest.mark.parametrize(
    ("jobs", "count", "capped", "label"), [(0, 0, False, "0"), (3, 3, False, "3"), (5, 3, True, "3+")]
)
def test_count_stops_at_the_cap(make_job: Callable[..., Job], jobs: int, count: int, capped: bool, label: str) -> None:
    for _ in range(jobs):
        make_job()
    # Filtered, so PostgreSQL does not use its table estimate for the label.
    paginator = SmallCap(Job.objects.filter(queue="default").order_by("-id"), per_page=2)

    with CaptureQueriesContext(connection) as captured:
        assert (paginator.count, paginator.capped, paginator.count_label) == (count, capped, label)

    assert len(captured) == 1
    assert "LIMIT 4" in captured[0]["sql"]


def test_pages_past_the_cap_are_not_offered(make_job: Callable[..., Job]) -> None:
    jobs = [make_job() for _ in range(5)]
    paginator = SmallCap(Job.objects.order_by("id"), per_page=2)

    assert paginator.num_pages == 2
    assert [j.pk for j in paginator.page(2).object_list] == [jobs[2].pk]
