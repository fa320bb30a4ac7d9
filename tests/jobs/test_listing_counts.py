"""jobs.listing's capped counts and how every edge labels them: one formatter for "1,234" and "1,000+"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import listing
from jobs.models import Job


def test_a_count_reads_with_thousands_and_a_plus_when_counting_stopped() -> None:
    assert listing.count_label(0) == "0"
    assert listing.count_label(1_234) == "1,234"
    assert listing.count_label(1_000, more=True) == "1,000+"


def test_a_count_read_up_to_the_cap_is_labelled_at_the_cap_when_above_it() -> None:
    assert listing.capped_label(1_000, cap=1_000) == "1,000"
    assert listing.capped_label(1_001, cap=1_000) == "1,000+"
    assert listing.capped_label(3, cap=2) == "2+"


@pytest.mark.django_db
def test_capped_count_reads_at_most_cap_plus_one_rows_in_one_query(make_job: Callable[..., Job]) -> None:
    for _ in range(5):
        make_job()

    with CaptureQueriesContext(connection) as captured:
        assert listing.capped_count(Job.objects.all(), cap=3) == 4
    assert len(captured) == 1 and "LIMIT 4" in captured[0]["sql"]
    assert listing.capped_count(Job.objects.all(), cap=10) == 5


@pytest.mark.django_db
def test_total_label_is_exact_up_to_the_cap_then_a_larger_estimate_or_the_cap_with_a_plus(
    make_job: Callable[..., Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        make_job()
    filtered = Job.objects.filter(queue="default")

    assert listing.row_estimate(filtered) == 0  # only an unfiltered table has one
    assert listing.total_label(filtered, counted=5, cap=10) == "5"
    assert listing.total_label(filtered, counted=4, cap=3) == "3+"
    # The estimate itself is PostgreSQL's (tests/admin/test_query_counts.py reads one after ANALYZE;
    # not here: ANALYZE writes pg_class in place, so its figures would outlive this test's rollback).
    monkeypatch.setattr(listing, "row_estimate", lambda queryset: 98_000)
    assert listing.total_label(Job.objects.all(), counted=4, cap=3) == "about 98,000"
    monkeypatch.setattr(listing, "row_estimate", lambda queryset: 2)
    assert listing.total_label(Job.objects.all(), counted=4, cap=3) == "3+"  # an estimate below the cap is stale
